package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/db"
)

// Options tune the GraphQL handler.
type Options struct {
	Introspection   bool         // allow __schema/__type queries (development)
	ComplexityLimit int          // 0 means DefaultComplexityLimit
	Logger          *slog.Logger // internal errors and panics; nil means slog.Default()
}

const (
	// DefaultComplexityLimit admits a full page (100) of tasks with their tags, not much more.
	DefaultComplexityLimit = 1000
	// MaxDepth bounds selection nesting.
	MaxDepth = 10
)

// NewServer returns the complete GraphQL handler: POST and GET transports, a parsed-query cache,
// complexity and depth limits, the error presenter and panic recovery. It expects auth.Middleware
// in front of it to authenticate requests.
func NewServer(store *db.Store, opts Options) *handler.Server {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	limit := opts.ComplexityLimit
	if limit == 0 {
		limit = DefaultComplexityLimit
	}
	cfg := Config{Resolvers: &Resolver{store: store}}
	cfg.Directives.Auth = authDirective

	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{}) // transport.POST, writing the data as generated (transport.go)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true) // "did you mean" would reveal the schema piecemeal
	}
	srv.Use(extension.FixedComplexityLimit(limit))
	srv.Use(depthLimit{max: MaxDepth})
	srv.SetErrorPresenter(presenter(log))
	srv.SetRecoverFunc(recoverer(log))
	return srv
}
