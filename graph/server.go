package graph

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/live"
)

// Options tune the GraphQL handler.
type Options struct {
	Introspection   bool         // allow __schema/__type queries (development)
	ComplexityLimit int          // 0 means DefaultComplexityLimit
	MaxDepth        int          // 0 means MaxDepth
	Logger          *slog.Logger // internal errors and panics; nil means slog.Default()
	// Live serves Subscription (nil: subscribing fails). Transports carry subscriptions (its
	// WebSocket and SSE ones); they are tried before GET and POST.
	Live       *live.Hub
	Transports []graphql.Transport
}

const (
	// DefaultComplexityLimit admits a full page (100) of tasks with their tags, not much more.
	DefaultComplexityLimit = 1000
	// MaxDepth bounds the nesting of data fields (no path of this schema is deeper than 5).
	MaxDepth = 10
	// MaxIntrospectionDepth bounds the nesting under __schema and __type: the standard
	// introspection queries (graphql-js getIntrospectionQuery, GraphiQL, GraphQL Code Generator)
	// nest 15 deep, and 20 leaves room for a typeDepth of up to 14 ofType levels.
	MaxIntrospectionDepth = 20
	// MaxIntrospectionFields bounds the fields selected under __schema and __type, fragments
	// expanded: the standard queries select at most 230 (getIntrospectionQuery with every option).
	MaxIntrospectionFields = 500
)

// NewServer returns the complete GraphQL handler: POST and GET transports, a parsed-query cache,
// complexity and depth limits, the error presenter and panic recovery, and per-operation
// dataloaders. It expects auth.Middleware in front of it to authenticate requests.
func NewServer(store *db.Store, opts Options) *handler.Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	limit := opts.ComplexityLimit
	if limit == 0 {
		limit = DefaultComplexityLimit
	}
	maxDepth := opts.MaxDepth
	if maxDepth == 0 {
		maxDepth = MaxDepth
	}
	cfg := Config{Resolvers: &Resolver{store: store, live: opts.Live}}
	cfg.Directives.Auth = authDirective

	srv := handler.New(NewExecutableSchema(cfg))
	for _, t := range opts.Transports {
		srv.AddTransport(t)
	}
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true) // "did you mean" would reveal the schema piecemeal
	}
	// Before the complexity limit, so that a disabled introspection is named as such.
	srv.Use(operationLimits{
		introspection:          opts.Introspection,
		maxDepth:               maxDepth,
		maxIntrospectionDepth:  MaxIntrospectionDepth,
		maxIntrospectionFields: MaxIntrospectionFields,
	})
	srv.Use(extension.FixedComplexityLimit(limit))
	srv.SetErrorPresenter(presenter(log))
	srv.SetRecoverFunc(recoverer(log))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if u, ok := auth.UserFrom(ctx); ok {
			ctx = context.WithValue(ctx, loadersKey{}, newLoaders(store, u.UUID))
		}
		return next(ctx)
	})
	useSubscriptions(srv)
	return srv
}
