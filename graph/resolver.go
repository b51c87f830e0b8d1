// Package graph is the GraphQL API (gqlgen): the schema in schema.graphqls, thin resolvers that
// validate input and call the data layer, the error presenter and the handler (NewServer).
package graph

//go:generate go tool gqlgen generate

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// Resolver holds the resolvers' dependencies. Per-request state (the user, the loaders) lives in
// the context.
type Resolver struct {
	store *db.Store
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

// selectsTaskTags reports whether the tasks connection being resolved selects the tasks' tags
// (edges.node.tags or nodes.tags), fragments included.
func selectsTaskTags(ctx context.Context) bool {
	oc := graphql.GetOperationContext(ctx)
	has := func(set ast.SelectionSet, name string) (ast.SelectionSet, bool) {
		for _, f := range graphql.CollectFields(oc, set, nil) {
			if f.Name == name {
				return f.Selections, true
			}
		}
		return nil, false
	}
	conn := graphql.GetFieldContext(ctx).Field.Selections
	if nodes, ok := has(conn, "nodes"); ok {
		if _, ok := has(nodes, "tags"); ok {
			return true
		}
	}
	if edges, ok := has(conn, "edges"); ok {
		if node, ok := has(edges, "node"); ok {
			if _, ok := has(node, "tags"); ok {
				return true
			}
		}
	}
	return false
}
