package graph

import (
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/live"
)

// Options tune the GraphQL handler. Zero values mean the defaults (README.md, Limits).
type Options struct {
	Introspection    bool          // allow __schema/__type queries (development)
	ComplexityLimit  int           // DefaultComplexityLimit
	MaxDepth         int           // MaxDepth
	MaxTagsPerTask   int           // DefaultMaxTagsPerTask: tagIds of createTask and updateTask
	MaxTagsPerUser   int           // DefaultMaxTagsPerUser: createTag refuses the next one
	RequestTimeout   time.Duration // DefaultRequestTimeout: the deadline of a query or mutation
	MaxResponseBytes int           // DefaultMaxResponseBytes
	QueryCacheBytes  int           // QueryCacheBytes
	Logger           *slog.Logger  // internal errors and panics; nil means slog.Default()
	// Live serves Subscription (nil: subscribing fails). Transports carry subscriptions (its
	// WebSocket and SSE ones); they are tried before GET and POST, a request body checked as
	// POST's is.
	Live       *live.Hub
	Transports []graphql.Transport
	// Trusted, when set, limits execution to its manifest's documents (enforce) or reports the
	// others (log); its Handler must be in front of the server for documentId over HTTP.
	Trusted *TrustedDocuments
	// Tracer, when set, gives every operation a span (tracing.go).
	Tracer trace.Tracer
	// ResolversOnly turns the compiled read path off (compiledexec.go): every operation runs
	// through gqlgen's resolvers (the differential test's reference, and benchmarks' "before").
	ResolversOnly bool
	// CountOperation, when set, is told which executor served each operation (ExecutorCompiled
	// or ExecutorResolvers): taskgraph_operations_total.
	CountOperation func(executor string)
	// Shares, if set, bounds each user's operations at once (shares.go).
	Shares Shares
	// RenderPerSubscriber turns the shared rendering of subscription events off (render.go):
	// gqlgen executes every event for every subscriber, as before issue 19 (the differential
	// test's reference, and benchmarks' "before").
	RenderPerSubscriber bool
	// CountRender, when set, is told of each execution of a subscription event (render.go).
	CountRender func()
}

const (
	// MaxDepth bounds the nesting of data fields (no path of this schema is deeper than 5).
	MaxDepth = 10
	// MaxIntrospectionDepth bounds the nesting under __schema and __type: the standard
	// introspection queries (graphql-js getIntrospectionQuery, GraphiQL, GraphQL Code Generator)
	// nest 15 deep, and 20 leaves room for a typeDepth of up to 14 ofType levels.
	MaxIntrospectionDepth = 20
	// MaxIntrospectionFields bounds the fields selected under __schema and __type, fragments
	// expanded: the standard queries select at most 230 (getIntrospectionQuery with every option).
	MaxIntrospectionFields = 500
	// DefaultMaxTagsPerTask and DefaultMaxTagsPerUser bound the lists Task.tags and Query.tags.
	DefaultMaxTagsPerTask = 50
	DefaultMaxTagsPerUser = 500
	// DefaultRequestTimeout bounds a query or mutation, its database work included.
	DefaultRequestTimeout = 10 * time.Second
)

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ComplexityLimit, DefaultComplexityLimit)
	def(&o.MaxDepth, MaxDepth)
	def(&o.MaxTagsPerTask, DefaultMaxTagsPerTask)
	def(&o.MaxTagsPerUser, DefaultMaxTagsPerUser)
	def(&o.MaxResponseBytes, DefaultMaxResponseBytes)
	def(&o.QueryCacheBytes, QueryCacheBytes)
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
}

// NewServer returns the complete GraphQL handler: POST and GET transports, the limits on a
// document before it is validated, a parsed-query cache bounded by bytes that automatic persisted
// queries share, complexity and depth limits, a deadline and a response size bound on each
// operation, the error presenter and panic recovery. It expects auth.Middleware in front of it to
// authenticate requests.
func NewServer(store *db.Store, opts Options) *handler.Server {
	srv, _ := newServer(store, opts)
	return srv
}

// newServer is NewServer, and its query cache for the tests. The order of the steps is the order
// requests meet them.
func newServer(store *db.Store, opts Options) (*handler.Server, *splitCache) {
	opts.defaults()
	cfg := Config{Resolvers: &Resolver{store: store, live: opts.Live, maxTagsPerTask: opts.MaxTagsPerTask, maxTagsPerUser: opts.MaxTagsPerUser}}
	cfg.Directives.Auth = authDirective

	es := NewExecutableSchema(cfg)
	srv := handler.New(compiledSchema{es})
	addTransports(srv, opts.Transports)
	cache := newSplitCache(QueryCacheEntries, opts.QueryCacheBytes) // signed-in and anonymous budgets
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(MaxDocumentTokens + 1) // documentLimits refuses more first
	useDocumentChecks(srv, cache, &opts)
	useOperationLimits(srv, opts)
	useOperationMiddlewares(srv, store, es.(*executableSchema), opts)
	srv.AroundResponses(capErrors)
	srv.SetErrorPresenter(presenter(opts.Logger))
	srv.SetRecoverFunc(recoverer(opts.Logger))
	useSubscriptions(srv)
	if !opts.RenderPerSubscriber { // last: its response middleware is the innermost
		useSharedRender(srv, opts.CountRender)
	}
	return srv, cache
}

func addTransports(srv *handler.Server, transports []graphql.Transport) {
	for _, t := range transports {
		srv.AddTransport(checkedBody{t})
	}
	srv.AddTransport(multipartRefusal{}) // incremental delivery asked for: refused at once (incremental.go)
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{}) // also writes the data as generated (directwrite.go)
	srv.AddTransport(unsupported{})   // the last transport: it answers what those above do not serve
}

// useDocumentChecks adds what looks at a document before it is validated: trusted documents, the
// document limits, automatic persisted queries and introspection (which trusted documents, when
// enforced, turn off).
func useDocumentChecks(srv *handler.Server, cache *splitCache, opts *Options) {
	if opts.Trusted != nil { // first: an untrusted document is refused before it is measured
		opts.Trusted.logger = opts.Logger
		srv.Use(trustedParams{opts.Trusted})
		if opts.Trusted.Enforced() {
			opts.Introspection = false
		}
	}
	// Before the persisted queries: a document sent in full is measured before it is hashed.
	srv.Use(documentLimits{cache: cache})
	srv.Use(extension.AutomaticPersistedQuery{Cache: splitPersisted{cache}})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true) // "did you mean" would reveal the schema piecemeal
	}
}

// useOperationLimits adds the limits on a validated operation.
func useOperationLimits(srv *handler.Server, opts Options) {
	// Before the complexity limit, so that a disabled introspection is named as such.
	srv.Use(operationLimits{
		introspection:          opts.Introspection,
		maxDepth:               opts.MaxDepth,
		maxIntrospectionDepth:  MaxIntrospectionDepth,
		maxIntrospectionFields: MaxIntrospectionFields,
		maxSelections:          MaxSelections,
	})
	srv.Use(complexityLimit{limit: opts.ComplexityLimit, sizes: listSizes{tagsPerTask: opts.MaxTagsPerTask, tagsPerUser: opts.MaxTagsPerUser}})
	srv.Use(deferRefusal{}) // incremental.go
}

// useOperationMiddlewares adds what runs around each operation, outermost first.
func useOperationMiddlewares(srv *handler.Server, store *db.Store, es *executableSchema, opts Options) {
	if opts.Tracer != nil {
		srv.Use(operationSpans{opts.Tracer})
	}
	if opts.Shares != nil {
		srv.AroundOperations(withShares(opts.Shares)) // before the deadline: waiting is not running
	}
	srv.AroundOperations(withDeadline(opts.RequestTimeout))
	srv.AroundOperations(withResponseBudget(opts.MaxResponseBytes))
	if !opts.ResolversOnly { // inside the deadline and the budget
		srv.AroundOperations(compiledReads{store: store, es: es, maxTags: opts.MaxTagsPerUser, plans: newPlanCache(), log: opts.Logger, count: opts.CountOperation}.middleware)
	}
}
