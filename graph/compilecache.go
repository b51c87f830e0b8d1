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
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/db"
)

// The compiled statements are cached per (document, operation name, variables): the statement's
// text and its parameters depend on the variables (which fields @skip/@include keep, which
// filters are present, a cursor's kind), and the arguments the resolvers would refuse are refused
// while compiling, so the variables are part of the key. Two kinds of value are not:
//   - the user: a statement is compiled for planUser, and each request puts its own user (and the
//     cursor binding derived from it) in the parameters that held planUser's;
//   - a variable used only as the id of task or tag (`task(id: $id)`, the usual fetch by id): it
//     only ever fills its parameter, so each request parses its own value into it, as the
//     compiler would (one that is not a UUID falls back, as it would).
//
// An operation with an incoming cursor is compiled for its user and not cached: a cursor is
// checked against its own user's binding while compiling.

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

// idSlot is a parameter holding the id variable named variable.
type idSlot struct {
	at       int
	variable string
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
	idVars := idVariables(oc)
	keyed := oc.Variables
	if len(idVars) > 0 {
		keyed = make(map[string]any, len(oc.Variables))
		for k, v := range oc.Variables {
			if !idVars[k] {
				keyed[k] = v
			}
		}
	}
	vars, err := json.Marshal(keyed) // map keys sorted: one spelling per value
	if err != nil {
		return compiled{}, notCompiled("variables: %v", err)
	}
	key := planKey{query: oc.RawQuery, operation: oc.OperationName, variables: string(vars), budget: budget}
	if p, ok := r.plans.lru.Get(key); ok {
		return p.forRequest(user, oc.Variables)
	}
	r.plans.compiles.Add(1)
	op, err := compileWith(ctx, oc, r.es, planUser, r.maxTags, budget, idVars)
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
	return p.forRequest(user, oc.Variables)
}

// forRequest is the statement with user's parameters in place of planUser's, and the request's
// own id variables in theirs.
func (p *plan) forRequest(user uuid.UUID, vars map[string]any) (compiled, error) {
	op := p.compiled
	op.args = slices.Clone(op.args)
	for _, i := range p.userAt {
		op.args[i] = user
	}
	for _, b := range p.binds {
		op.args[b.at] = db.CursorBinding(user, b.tq)
	}
	for _, s := range p.idSlots {
		raw, err := graphql.UnmarshalID(vars[s.variable]) // as the generated code decodes an ID!
		if err != nil {
			return compiled{}, notCompiled("$%s: %v", s.variable, err)
		}
		id, err := parseID("id", raw)
		if err != nil {
			return compiled{}, notCompiled("$%s is not a UUID", s.variable)
		}
		op.args[s.at] = id
	}
	return op, nil
}

// idVariables are the operation's variables used only as the id argument of Query.task or
// Query.tag (nil when it has no variable of type ID).
func idVariables(oc *graphql.OperationContext) map[string]bool {
	op := oc.Operation
	if !slices.ContainsFunc(op.VariableDefinitions, func(v *ast.VariableDefinition) bool { return v.Type.NamedType == "ID" }) {
		return nil
	}
	uses := variableUses{} // variable → every use so far is an id
	uses.directives(op.Directives)
	walkOnce(op.SelectionSet, uses.selection)
	for name, ok := range uses {
		if !ok {
			delete(uses, name)
		}
	}
	return uses
}

// variableUses records, for each variable used, whether every use so far is the id of Query.task
// or Query.tag. A use marks the same whatever the order, and however often it is met.
type variableUses map[string]bool

func (u variableUses) selection(sel ast.Selection) step {
	switch s := sel.(type) {
	case *ast.Field:
		u.directives(s.Directives)
		root := s.ObjectDefinition != nil && s.ObjectDefinition.Name == "Query" && (s.Name == "task" || s.Name == "tag")
		for _, a := range s.Arguments {
			u.value(a.Value, root && a.Name == "id")
		}
	case *ast.InlineFragment:
		u.directives(s.Directives)
	case *ast.FragmentSpread:
		u.directives(s.Directives)
		if s.Definition != nil {
			u.directives(s.Definition.Directives)
		}
	}
	return walkBelow
}

func (u variableUses) value(v *ast.Value, asID bool) {
	if v == nil {
		return
	}
	if v.Kind == ast.Variable {
		prev, seen := u[v.Raw]
		u[v.Raw] = asID && (prev || !seen)
		return
	}
	for _, c := range v.Children {
		u.value(c.Value, false)
	}
}

func (u variableUses) directives(ds ast.DirectiveList) {
	for _, d := range ds {
		for _, a := range d.Arguments {
			u.value(a.Value, false)
		}
	}
}
