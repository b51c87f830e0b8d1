package main

import (
	"net/http"

	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/ide"
	"github.com/taskgraph/taskgraph/live"
)

// routeFunc adds a route to the mux handler builds.
type routeFunc func(pattern string, h http.Handler)

// graphQLRoutes serves /graphql: api over HTTP, socket for a WebSocket upgrade of GET.
func (a *app) graphQLRoutes(route routeFunc, api, socket http.Handler) {
	route("POST /graphql", api)
	route("PUT /graphql", api) // graphql-sse's single-connection reservation: refused with a reason
	route("GET /graphql", upgradeOr(socket, api))
}

// upgradeOr sends a WebSocket upgrade to socket (noting it for the request log) and any other
// request to api.
func upgradeOr(socket, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if live.IsUpgrade(r) {
			if info := infoFrom(r.Context()); info != nil {
				info.socket = true
			}
			socket.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// serviceRoutes are the health checks, and /metrics when METRICS_PUBLIC puts it on ADDR.
func (a *app) serviceRoutes(route routeFunc) {
	route("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	route("GET /readyz", http.HandlerFunc(a.ready))
	if a.cfg.MetricsAddr == "" && a.cfg.MetricsPublic {
		route("GET /metrics", a.metrics.handler())
	}
}

// optionalRoutes are the development surface, each opted into: the SDL (GRAPHQL_INTROSPECTION),
// GraphiQL (GRAPHQL_PLAYGROUND), and the routes of one mode only (dev's JWKS).
func (a *app) optionalRoutes(route routeFunc) {
	if a.cfg.Introspection {
		route("GET /graphql/schema.graphql", graph.SDLHandler())
	}
	if a.cfg.Playground {
		h := ide.Handler(ide.Config{
			Endpoint:  "/graphql",
			Headers:   a.playgroundHeaders,
			Document:  ide.StarterDocument,
			Variables: ide.StarterVariables,
		})
		route("GET /{$}", h)
		route("GET "+ide.Prefix, h)
	}
	if a.routes != nil {
		a.routes(route)
	}
}
