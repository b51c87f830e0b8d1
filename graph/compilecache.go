package graph

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/taskgraph/taskgraph/db"
)

// The compiled statements are cached per (document, operation name, variables): the statement's
// text and its parameters depend on the variables (which fields @skip/@include keep, which
// filters are present, a cursor's kind), and the arguments the resolvers would refuse are refused
// while compiling, so the variables are part of the key. The user is not: a statement is compiled
// for planUser, and each request puts its own user (and the cursor binding derived from it) in
// the parameters that held planUser's. An operation with an incoming cursor is compiled for its
// user and not cached: a cursor is checked against its own user's binding while compiling.

// planUser stands for the user in a cached statement: random per process, so no client can name
// it (a parameter equal to it is the user's, never a value a client sent).
var planUser = uuid.New()

// errCursorPlan: the operation has an incoming cursor, which only its own user's compile checks.
var errCursorPlan = errors.New("graph: a cursor is compiled for its user")

const (
	planCacheEntries = 512
	planMaxBytes     = 32 << 10 // a larger document, variables and statement together are not kept
)

type planKey struct {
	query, operation, variables string
	budget                      int64
}

// plan is a cached statement: compiled for planUser, with the parameters that are the user's.
type plan struct {
	compiled
	userAt []int
}

// planCache holds compiled statements, at most planCacheEntries of at most planMaxBytes each.
type planCache struct {
	lru      *lru.Cache[planKey, *plan]
	compiles atomic.Int64 // statements compiled (a test counts them)
}

func newPlanCache() *planCache {
	c, _ := lru.New[planKey, *plan](planCacheEntries)
	return &planCache{lru: c}
}

// compile returns the operation's statement for user: from the cache, or compiled (and kept).
func (r compiledReads) compile(ctx context.Context, oc *graphql.OperationContext, user uuid.UUID, budget int64) (compiled, error) {
	if r.plans == nil {
		return compileOperation(ctx, oc, r.es, user, r.maxTags, budget)
	}
	vars, err := json.Marshal(oc.Variables) // map keys sorted: one spelling per value
	if err != nil {
		return compiled{}, notCompiled("variables: %v", err)
	}
	key := planKey{query: oc.RawQuery, operation: oc.OperationName, variables: string(vars), budget: budget}
	if p, ok := r.plans.lru.Get(key); ok {
		return p.forUser(user), nil
	}
	r.plans.compiles.Add(1)
	op, err := compileOperation(ctx, oc, r.es, planUser, r.maxTags, budget)
	if errors.Is(err, errCursorPlan) {
		return compileOperation(ctx, oc, r.es, user, r.maxTags, budget)
	}
	if err != nil {
		return compiled{}, err
	}
	p := &plan{compiled: op}
	for i, a := range op.args {
		if u, ok := a.(uuid.UUID); ok && u == planUser {
			p.userAt = append(p.userAt, i)
		}
	}
	if len(key.query)+len(key.variables)+len(op.sql) <= planMaxBytes {
		r.plans.lru.Add(key, p)
	}
	return p.forUser(user), nil
}

// forUser is the statement with user's parameters in place of planUser's.
func (p *plan) forUser(user uuid.UUID) compiled {
	op := p.compiled
	op.args = slices.Clone(op.args)
	for _, i := range p.userAt {
		op.args[i] = user
	}
	for _, b := range p.binds {
		op.args[b.at] = db.CursorBinding(user, b.tq)
	}
	return op
}
