package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskgraph/taskgraph/auth"
)

// metrics holds the server's Prometheus collectors in a registry of its own, so tests can build
// several servers in one process.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	authFailure *prometheus.CounterVec
	jwksFetches *prometheus.CounterVec

	mu         sync.Mutex
	operations map[string]bool // operation names seen, capped to bound label cardinality
}

// maxOperationLabels caps distinct operation names: they come from clients.
const maxOperationLabels = 200

func newMetrics(pool *sql.DB) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskgraph_graphql_requests_total",
			Help: "GraphQL requests by operation name and outcome (ok, error, unauthenticated, unavailable, bad_request).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "taskgraph_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		authFailure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskgraph_auth_failures_total",
			Help: "Refused bearer tokens by reason.",
		}, []string{"reason"}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskgraph_jwks_fetches_total",
			Help: "JWKS fetches by result (ok, error).",
		}, []string{"result"}),
		operations: map[string]bool{},
	}
	m.registry.MustRegister(m.requests, m.duration, m.authFailure, m.jwksFetches,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(pool, "taskgraph"),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// authHooks lets the auth package count without importing Prometheus.
func (m *metrics) authHooks() auth.Hooks {
	return auth.Hooks{
		AuthFailure: func(reason string) { m.authFailure.WithLabelValues(reason).Inc() },
		JWKSFetch: func(err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.jwksFetches.WithLabelValues(result).Inc()
		},
	}
}

var operationName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// operationLabel keeps the label set bounded: unparsed, anonymous, odd or too many distinct names
// are folded.
func (m *metrics) operationLabel(info *requestInfo) string {
	name := info.operation
	switch {
	case !info.parsed:
		return "unknown"
	case name == "":
		return "anonymous"
	case !operationName.MatchString(name):
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.operations[name] {
		if len(m.operations) >= maxOperationLabels {
			return "other"
		}
		m.operations[name] = true
	}
	return name
}

// requestInfo is filled in as a request travels: the GraphQL layer adds what only it knows.
type requestInfo struct {
	id        string
	operation string // the executed operation's name; "" when unnamed
	parsed    bool   // the GraphQL layer saw the request (false when auth refused it first)
	gqlErrors bool
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// observeGraphQL records each operation's name and whether it answered with errors.
func observeGraphQL(srv *handler.Server) {
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if info := infoFrom(ctx); info != nil {
			info.parsed = true
			if graphql.HasOperationContext(ctx) {
				if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
					info.operation = oc.Operation.Name
				}
			}
			if resp != nil && len(resp.Errors) > 0 {
				info.gqlErrors = true
			}
		}
		return resp
	})
}

// statusRecorder remembers the status code written by the handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// newRequestID takes a sane X-Request-Id from a proxy, or makes one.
func newRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe logs one line per request and feeds the request metrics. It never logs headers, so a
// bearer token cannot reach the log.
func observe(logger *slog.Logger, m *metrics, route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: newRequestID(r)}
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		w.Header().Set("X-Request-Id", info.id)
		rec := &statusRecorder{ResponseWriter: w}

		next.ServeHTTP(rec, r.WithContext(ctx))

		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		rt := route(r)
		m.duration.WithLabelValues(rt).Observe(elapsed.Seconds())
		if rt == "/graphql" {
			m.requests.WithLabelValues(m.operationLabel(info), outcome(status, info.gqlErrors)).Inc()
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("operation", info.operation),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		)
	})
}

func outcome(status int, gqlErrors bool) string {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthenticated"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status >= 500:
		return "error"
	case status >= 400:
		return "bad_request"
	case gqlErrors:
		return "error"
	default:
		return "ok"
	}
}

// routeOf names the route for metric labels from a fixed set, never the raw path.
func routeOf(r *http.Request) string {
	switch r.URL.Path {
	case "/graphql", "/healthz", "/readyz", "/metrics", "/":
		return r.URL.Path
	case "/api/auth/jwks":
		return "/api/auth/jwks"
	}
	return "other"
}

// contextHandler adds the request id to every log record made with a request's context, so a
// resolver's error log line can be matched with the request line.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, rec slog.Record) error {
	if info := infoFrom(ctx); info != nil {
		rec.AddAttrs(slog.String("request_id", info.id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
