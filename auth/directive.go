package auth

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Directive implements `directive @auth on FIELD_DEFINITION` for gqlgen (c.Directives.Auth =
// auth.Directive): a field marked @auth resolves only for a request the middleware authenticated.
// Otherwise the field is null with an error whose extensions.code is UNAUTHENTICATED (HTTP 200).
func Directive(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	if _, ok := UserFrom(ctx); !ok {
		return nil, &gqlerror.Error{
			Message:    "authentication required: send 'Authorization: Bearer <jwt>' with a token from Better Auth",
			Extensions: map[string]any{"code": apierr.Unauthenticated},
		}
	}
	return next(ctx)
}
