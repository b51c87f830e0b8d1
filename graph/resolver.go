package graph

//go:generate go tool gqlgen generate

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// Resolver holds the resolvers' dependencies. Per-request state (the user, the loaders) lives in
// the context.
type Resolver struct {
	store *db.Store
	log   *slog.Logger
}

// userUUID is the caller's application UUID. Every field is behind @auth, so a user is present;
// without one it is uuid.Nil, which the data layer refuses.
func userUUID(ctx context.Context) uuid.UUID {
	u, _ := auth.UserFrom(ctx)
	return u.UUID
}

// selects reports whether the current field's selection includes the field name, so that costly
// fields (totalCount) are computed only when asked for.
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}
