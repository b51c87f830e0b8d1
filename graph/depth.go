package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// depthLimit refuses operations nested deeper than max fields (fragments counted by their
// fields). gqlgen has a complexity limit but no depth limit; the schema has no cycles today, so
// this guards future additions and absurd fragment nesting.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	if depth := selectionDepth(op.SelectionSet, 0, d.max); depth > d.max {
		err := gqlerror.Errorf("operation is nested deeper than %d fields", d.max)
		errcode.Set(err, apierr.DepthLimitExceeded)
		return err
	}
	return nil
}

// selectionDepth returns the depth of set below level, stopping once it passes max.
func selectionDepth(set ast.SelectionSet, level, max int) int {
	w := depthWalker{max: max, memo: map[*ast.FragmentDefinition]int{}}
	return w.depth(set, level)
}

// depthWalker measures each fragment once: a fragment's depth below the place it is spread does
// not depend on that place, so n fragments that each spread the next twice cost n steps, not 2^n.
type depthWalker struct {
	max    int
	memo   map[*ast.FragmentDefinition]int // a fragment's depth below its spread
	visits int
}

func (w *depthWalker) depth(set ast.SelectionSet, level int) int {
	deepest := level
	if level > w.max {
		return level
	}
	for _, s := range set {
		w.visits++
		var d int
		switch s := s.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = level + 1
			} else {
				d = w.depth(s.SelectionSet, level+1)
			}
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			if f := s.Definition; f != nil {
				below, ok := w.memo[f]
				if !ok {
					w.memo[f] = 0 // a cycle (refused by validation) adds nothing
					below = w.depth(f.SelectionSet, 0)
					w.memo[f] = below
				}
				d = level + below
			}
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}
