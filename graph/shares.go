package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Shares bounds one user's queries and mutations running at once (OPERATIONS_PER_USER). The
// HTTP middleware takes a place per request before GraphQL runs (Held then says so); an
// operation over a WebSocket takes its place here.
type Shares interface {
	Acquire(ctx context.Context, user uuid.UUID) (release func(), ok bool)
	Held(ctx context.Context) bool
}

// withShares makes a query or mutation that holds no place yet wait for one of its user's; one
// that waits too long is answered TOO_MANY_REQUESTS. Subscriptions are bounded by
// SUBSCRIPTIONS_PER_USER instead.
func withShares(s Shares) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		u, signedIn := auth.UserFrom(ctx)
		if !signedIn || u.UUID == uuid.Nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription || s.Held(ctx) {
			return next(ctx)
		}
		release, ok := s.Acquire(ctx, u.UUID)
		if !ok {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    "you have as many operations running as you may (OPERATIONS_PER_USER); retry shortly",
				Extensions: map[string]any{"code": apierr.TooManyRequests},
			}}})
		}
		var once sync.Once
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer once.Do(release) // a query or mutation answers once
			return h(ctx)
		}
	}
}
