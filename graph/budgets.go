package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/auth"
)

// anonymousShare is the part of the query cache's bounds that requests without a token get: a
// budget of their own, so that anonymous churn (1,100 distinct `{ __typename } # n` documents)
// cannot evict a signed-in user's documents, and an anonymous persisted-query lookup by hash sees
// only documents that anonymous requests registered: it tells nothing of what signed-in users run.
const anonymousShare = 8

// splitCache is the parsed-query cache in two budgets: signed-in requests' (QueryCacheEntries,
// QueryCacheBytes) and anonymous ones' (an anonymousShare of each).
type splitCache struct {
	signedIn, anonymous *queryCache
}

var _ graphql.Cache[*ast.QueryDocument] = (*splitCache)(nil)

func newSplitCache(entries, bytes int) *splitCache {
	return &splitCache{
		signedIn:  newQueryCache(entries, bytes),
		anonymous: newQueryCache(max(1, entries/anonymousShare), bytes/anonymousShare),
	}
}

// of is the budget of the request in ctx.
func (s *splitCache) of(ctx context.Context) *queryCache {
	if u, ok := auth.UserFrom(ctx); ok && u.UUID != uuid.Nil {
		return s.signedIn
	}
	return s.anonymous
}

func (s *splitCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	return s.of(ctx).Get(ctx, query)
}

func (s *splitCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	s.of(ctx).Add(ctx, query, doc)
}

func (s *splitCache) has(ctx context.Context, query string) bool { return s.of(ctx).has(query) }

// splitPersisted is persistedQueries over the caller's budget.
type splitPersisted struct{ c *splitCache }

var _ graphql.Cache[string] = splitPersisted{}

func (p splitPersisted) Get(ctx context.Context, hash string) (string, bool) {
	return persistedQueries{p.c.of(ctx)}.Get(ctx, hash)
}

func (splitPersisted) Add(context.Context, string, string) {}
