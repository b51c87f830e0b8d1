package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalListInOrder marshals a list's elements one after the other on the calling goroutine.
// generated.go calls it where gqlgen writes graphql.MarshalSliceConcurrently, which starts a
// goroutine per element: `go generate` rewrites the call (resolver.go), and
// TestGeneratedListsMarshalInOrder fails if a regeneration brings it back.
//
// Concurrency pays when an element's fields wait on something (a loader, a query). Here none
// does: no type that appears in a list has a field resolver, and a task's tags come with its
// row. So the goroutines only cost: each starts on a small stack and grows it in gqlgen's deep
// recursion; on page1 that was 9% of the server's CPU in copystack alone (bench/README.md).
// Errors and panics are handled as MarshalSliceConcurrently does: a panicking element is null
// with its error on its path (unless omit_panic_handler).
func marshalListInOrder(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}
