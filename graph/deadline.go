package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// withDeadline gives each query and mutation the deadline timeout: the resolvers' contexts, and
// so their database work (lib/pq cancels a running statement when its context ends), stop there.
// A subscription lives as long as its client and is not bounded here. The parse, validation and
// limits before it are bounded by the document limits instead.
func withDeadline(timeout time.Duration) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
			return next(ctx)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		respond := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer cancel() // a query or a mutation answers once
			return respond(ctx)
		}
	}
}
