package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// authDirective implements `directive @auth on FIELD_DEFINITION` (NewServer sets
// Directives.Auth): a field marked @auth resolves only for a request auth.Middleware
// authenticated. Otherwise the field is null with an error whose extensions.code is
// UNAUTHENTICATED (HTTP 200). Authentication stays in auth; this is the authorization.
func authDirective(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	if _, ok := auth.UserFrom(ctx); !ok {
		return nil, &gqlerror.Error{
			Message:    "authentication required: send 'Authorization: Bearer <jwt>' with a token from Better Auth",
			Extensions: map[string]any{"code": apierr.Unauthenticated},
		}
	}
	return next(ctx)
}
