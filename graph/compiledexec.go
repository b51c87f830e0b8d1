package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// Executors, the label of taskgraph_operations_total.
const (
	ExecutorCompiled  = "compiled"
	ExecutorResolvers = "resolvers"
)

// compiledReads answers a query operation with the one statement the compiler makes of it
// (compile.go): PostgreSQL builds the data, which becomes the response as it is. It runs after
// validation and every limit on the operation (an operation middleware, inside the deadline and
// the response budget), as the user, through db.Store.ReadJSON (row-level security, READ ONLY,
// the statement timeout). Whatever it does not answer exactly as the resolvers would (see
// fallback) goes to them: an operation it does not cover, an argument the resolvers refuse, a
// missing user row, a response over the budget, a failed statement.
//
// The data it read goes in the context, and compiledSchema, in place of the generated schema's
// execution, answers with it: so every response middleware (the error cap, the request log and
// its metrics) still runs around the response, whichever executor made it.
type compiledReads struct {
	store   *db.Store
	es      *executableSchema
	maxTags int
	plans   *planCache // nil: compiled for every request
	log     *slog.Logger
	count   func(executor string) // nil: not counted
}

func (r compiledReads) middleware(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	user, ok := auth.UserFrom(ctx)
	if !ok {
		return r.fallBack(ctx, next, "no user")
	}
	budget := int64(math.MaxInt64)
	if b := budgetFrom(ctx); b != nil {
		budget = int64(b.limit)
	}
	op, err := r.compile(ctx, oc, user.UUID, budget)
	if err != nil {
		return r.fallBack(ctx, next, err.Error())
	}
	out, err := r.store.ReadJSON(ctx, user.UUID, op.key, op.sql, op.args...)
	if err != nil {
		if db.Unavailable(err) {
			// The resolvers run it again on a fresh session: a read retried once, which answers
			// DATABASE_UNAVAILABLE if the database is still away (no ERROR line per request).
			return r.fallBack(ctx, next, "the database connection failed")
		}
		if !db.Canceled(err) {
			r.log.ErrorContext(ctx, "graphql: compiled read failed", "err", err)
		}
		return r.fallBack(ctx, next, "the statement failed")
	}
	data, err := r.within(out, budget)
	if err != nil {
		return r.fallBack(ctx, next, err.Error())
	}
	r.counted(ctx, ExecutorCompiled)
	return next(context.WithValue(ctx, compiledDataKey{}, json.RawMessage(data)))
}

type compiledDataKey struct{}

// compiledSchema is the generated schema, whose execution answers with the compiled data when
// the operation has it.
type compiledSchema struct{ graphql.ExecutableSchema }

func (s compiledSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	if data, ok := ctx.Value(compiledDataKey{}).(json.RawMessage); ok {
		return graphql.OneShot(&graphql.Response{Data: data})
	}
	return s.ExecutableSchema.Exec(ctx)
}

// within splits the statement's result into the charge and the data, and returns the data only
// when the charge is within the response budget.
func (r compiledReads) within(out []byte, budget int64) ([]byte, error) {
	if out == nil {
		return nil, notCompiled("no result (a user without a row)")
	}
	nl := bytes.IndexByte(out, '\n')
	if nl < 0 {
		nl = len(out) // the charge alone: over the budget
	}
	charge, err := strconv.ParseInt(string(out[:nl]), 10, 64)
	if err != nil {
		return nil, errors.New("graph: compiled read: malformed charge")
	}
	if charge > budget || nl == len(out) {
		return nil, notCompiled("the response may exceed the budget")
	}
	return fixEscapes(out[nl+1:]), nil
}

func (r compiledReads) fallBack(ctx context.Context, next graphql.OperationHandler, reason string) graphql.ResponseHandler {
	// The reason may quote an argument (a refused time): cut it as a message to a client is.
	r.log.DebugContext(ctx, "graphql: the resolvers serve the operation", "reason", truncate(reason, maxMessage))
	r.counted(ctx, ExecutorResolvers)
	return next(ctx)
}

func (r compiledReads) counted(ctx context.Context, executor string) {
	noteExecutor(ctx, executor)
	if r.count != nil {
		r.count(executor)
	}
}
