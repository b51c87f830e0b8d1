package main

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/connlimit"
	"github.com/taskgraph/taskgraph/live"
)

// handler is the routes and the middleware stack, outermost first: the request log and metrics
// (observe), CORS, the mux; on /graphql, auth.Middleware, the body limit, then gqlgen. A
// WebSocket upgrade of GET /graphql skips auth.Middleware: the socket authenticates itself
// (live.Websocket), so a refused token closes it with 4403 and the reason, which a browser's
// WebSocket can read, where it could not read a 401.
func (a *app) handler() http.Handler {
	c := corsPolicy(a.cfg.CORSOrigins)
	ws := a.live.Websocket(a.verifier, c.OriginAllowed)
	sse := a.live.SSE()
	gql := a.graphQL(ws.Transport(), sse.Transport())
	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, routed(h)) }
	a.graphQLRoutes(route, a.api(sse.Handler(gql)), ws.Handler(gql))
	a.serviceRoutes(route)
	a.optionalRoutes(route)
	return a.tracing.Handler(observe(a.logger, a.metrics, connlimit.NewProxied(a.cfg.Conns).Handler(c.Handler(mux))))
}

// graphQL is gqlgen's server over HTTP and transports; it makes a.shares (OPERATIONS_PER_USER).
func (a *app) graphQL(transports ...graphql.Transport) *handler.Server {
	a.shares = newShares(a.cfg.Limits.OperationsPerUser)
	gql := graph.NewServer(a.store, graph.Options{
		Shares:         a.shares.graph(),
		Introspection:  a.cfg.Introspection,
		RequestTimeout: a.cfg.Limits.RequestTimeout,
		MaxTagsPerTask: a.cfg.Limits.MaxTagsPerTask,
		MaxTagsPerUser: a.cfg.Limits.MaxTagsPerUser,
		Logger:         a.logger,
		Live:           a.live,
		Transports:     transports,
		Trusted:        a.cfg.Trusted,
		Tracer:         a.tracer(),
		CountOperation: a.metrics.operation,
		CountRender:    a.metrics.eventsRendered.Inc,
		ResolversOnly:  a.cfg.ResolversOnly,
	})
	observeGraphQL(gql)
	return gql
}

// api is /graphql over HTTP: inner (gqlgen and its event streams) behind the trusted documents,
// the body limit, the user's share, the token check and the shutdown's request count.
func (a *app) api(inner http.Handler) http.Handler {
	if a.cfg.Trusted != nil {
		a.cfg.Trusted.Untrusted = a.metrics.untrustedDocuments.Inc
		inner = a.cfg.Trusted.Handler(inner)
	}
	return a.counted(live.RefuseSingleConnection(auth.Middleware(a.verifier)(a.shares.Handler(limitBody(inner)))))
}

// tracer is the tracer of operation spans, or nil when tracing is off.
func (a *app) tracer() trace.Tracer {
	if a.tracing == nil {
		return nil
	}
	return a.tracing.Tracer
}

// counted tracks the requests drain waits for; an event stream is not one of them.
func (a *app) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if live.IsSSE(r) {
			next.ServeHTTP(w, r)
			return
		}
		a.inflight.Add(1)
		defer a.inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}
