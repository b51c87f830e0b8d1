package graph

import (
	"context"
	"encoding/json"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// DefaultComplexityLimit bounds the objects an operation can return, lists counted by their
// bounds (listSizes): a full page of 100 tasks with their tags (up to 50 each) costs 5,202, so
// two such pages pass and three, or 200 aliases of tasks(first: 100), do not.
const DefaultComplexityLimit = 12000

// complexityLimit refuses an operation that could return more objects than limit. It replaces
// gqlgen's FixedComplexityLimit, whose walk counts fields rather than rows (a list of 100 costs
// what one object costs) and re-walks a fragment at every spread (2^n work for n fragments that
// each spread the next twice).
//
// Each object a field can return costs 1: a field of an object type 1 plus its selections, a list
// field its bound (listSizes) times that; scalars and enums cost nothing, __typename included.
// __schema and __type are bounded by the depth limits instead. Fragments are costed once per page
// size they are spread under, so the walk is linear in the document.
type complexityLimit struct {
	limit int
	sizes listSizes
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = complexityLimit{}

func (complexityLimit) ExtensionName() string                   { return "ComplexityLimit" }
func (complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (c complexityLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	cost, _ := c.sizes.cost(oc.Doc, oc.Operation, oc.Variables)
	if cost > c.limit {
		return refuse(apierr.ComplexityLimitExceeded, "operation has complexity %d, which exceeds the limit of %d", cost, c.limit)
	}
	return nil
}

// listSizes are the bounds of the schema's lists: TaskConnection's edges and nodes hold the page
// asked for (first or last, default 20, at most 100), Task.tags at most tagsPerTask, Query.tags
// at most tagsPerUser. TestEveryListFieldHasASize keeps this complete.
type listSizes struct{ tagsPerTask, tagsPerUser int }

// unknownListSize is assumed for a list field listSizes does not know.
const unknownListSize = maxPage

// items is how many objects the field parentType.field returns at most, given its arguments and
// page, the page size of the connection it belongs to; and the page size its own selections
// belong to.
func (s listSizes) items(parentType, field string, list bool, args map[string]any, page int) (items, childPage int) {
	switch parentType + "." + field {
	case "Query.tasks":
		return 1, pageSize(args)
	case "TaskConnection.edges", "TaskConnection.nodes":
		return page, 0
	case "Task.tags":
		return s.tagsPerTask, 0
	case "Query.tags":
		return s.tagsPerUser, 0
	}
	if list {
		return unknownListSize, 0
	}
	return 1, page
}

// pageSize is the page Query.tasks returns for its arguments: first or last (the larger if both
// are given, which the resolver refuses anyway), defaultFirst if neither, within 0..maxPage (a
// page outside is refused by the resolver, as BAD_USER_INPUT).
func pageSize(args map[string]any) int {
	first, okF := intArg(args["first"])
	last, okL := intArg(args["last"])
	n := defaultFirst
	switch {
	case okF && okL:
		n = max(first, last)
	case okF:
		n = first
	case okL:
		n = last
	}
	return min(max(n, 0), maxPage)
}

func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(min(max(n, math.MinInt32), math.MaxInt32)), true
	case json.Number:
		i, err := n.Int64()
		return int(min(max(i, math.MinInt32), math.MaxInt32)), err == nil
	case float64:
		return int(min(max(n, math.MinInt32), math.MaxInt32)), true
	}
	return 0, false
}

// cost is the complexity of op in doc (validated: fields carry their definitions), and the number
// of selections the walk visited.
func (s listSizes) cost(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (cost, visits int) {
	c := costVisitor{sizes: s, vars: vars, memo: map[fragmentAt]int{}, sums: []costSum{{}}}
	w := selectionWalk[int]{enter: c.enter, leave: c.leave, fragments: byName(doc)}
	w.walk(op.SelectionSet, 0)
	return c.sums[0].sum, c.visits
}

// costVisitor sums the cost of a selection set, walked with the page size it belongs to as its
// context. Each field with selections and each fragment spread walked opens a sum, which leave
// closes into the sum it was opened in; an inline fragment adds to that sum directly (the same
// total: costs are not negative and saturate).
type costVisitor struct {
	sizes  listSizes
	vars   map[string]any
	memo   map[fragmentAt]int
	sums   []costSum
	visits int
}

// costSum is the cost of what has been walked so far below a field or a spread.
type costSum struct {
	sum   int
	items int // a field's: the objects it returns; a spread's: 0
}

// fragmentAt is a fragment spread under a page size: its cost depends on nothing else.
type fragmentAt struct {
	name string
	page int
}

func (c *costVisitor) enter(sel ast.Selection, page int) (int, step) {
	c.visits++
	switch s := sel.(type) {
	case *ast.Field:
		return c.field(s, page)
	case *ast.FragmentSpread:
		if cost, ok := c.memo[fragmentAt{s.Name, page}]; ok {
			c.add(cost)
			return page, skipBelow
		}
		c.memo[fragmentAt{s.Name, page}] = 0 // a cycle (refused by validation) costs nothing more
		c.sums = append(c.sums, costSum{})
	}
	return page, walkBelow
}

// field opens the sum of f's selections, with the page size they belong to, unless f costs
// nothing.
func (c *costVisitor) field(f *ast.Field, page int) (int, step) {
	if f.Definition == nil || f.ObjectDefinition == nil || f.Name == "__schema" || f.Name == "__type" {
		return page, skipBelow
	}
	if len(f.SelectionSet) == 0 {
		return page, skipBelow // a scalar or an enum
	}
	items, childPage := c.sizes.items(f.ObjectDefinition.Name, f.Name, f.Definition.Type.Elem != nil, f.ArgumentMap(c.vars), page)
	c.sums = append(c.sums, costSum{items: items})
	return childPage, walkBelow
}

func (c *costVisitor) leave(sel ast.Selection, page int) {
	top := c.sums[len(c.sums)-1]
	switch s := sel.(type) {
	case *ast.Field:
		c.sums = c.sums[:len(c.sums)-1]
		c.add(mulCost(top.items, addCost(1, top.sum)))
	case *ast.FragmentSpread:
		c.sums = c.sums[:len(c.sums)-1]
		c.memo[fragmentAt{s.Name, page}] = top.sum
		c.add(top.sum)
	}
}

func (c *costVisitor) add(cost int) {
	top := &c.sums[len(c.sums)-1]
	top.sum = addCost(top.sum, cost)
}

// Costs saturate instead of overflowing.
const maxCost = math.MaxInt32

func addCost(a, b int) int { return min(a+b, maxCost) }

func mulCost(a, b int) int {
	if a != 0 && b > maxCost/a {
		return maxCost
	}
	return a * b
}
