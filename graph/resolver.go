// Package graph is the GraphQL API (gqlgen): the schema in schema.graphqls, the @auth directive,
// thin resolvers that validate input and call the data layer, the error presenter and the handler
// (NewServer).
package graph

//go:generate go tool gqlgen generate

import (
	"context"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/live"
)

// Resolver holds the resolvers' dependencies. Per-request state (the user) lives in the context.
type Resolver struct {
	store *db.Store
	live  *live.Hub
	// maxTagsPerTask bounds tagIds on createTask and updateTask; maxTagsPerUser the tags a user
	// may create (and the tagIds of a filter).
	maxTagsPerTask, maxTagsPerUser int
}

// userUUID is the caller's application UUID. Every field is behind @auth, so a user is present;
// without one it is uuid.Nil, which the data layer refuses.
func userUUID(ctx context.Context) uuid.UUID {
	u, _ := auth.UserFrom(ctx)
	return u.UUID
}
