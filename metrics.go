package main

import (
	"database/sql"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/live"
)

// metrics holds the server's Prometheus collectors in a registry of its own, so tests can build
// several servers in one process.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	authFailure *prometheus.CounterVec
	jwksFetches *prometheus.CounterVec
	executors   *prometheus.CounterVec // by executor (issue 18)

	subscriptions      prometheus.Gauge
	eventsDelivered    prometheus.Counter
	eventsDropped      prometheus.Counter
	eventsRendered     prometheus.Counter
	listenerReconnects prometheus.Counter
	untrustedDocuments prometheus.Counter

	// operations are the names counted by name (METRICS_OPERATIONS, the trusted list of the
	// clients' operations); any other is "other", so clients cannot choose label values.
	operations map[string]bool
}

// maxOperationLabels caps METRICS_OPERATIONS.
const maxOperationLabels = 200

// countOperations sets the operation names counted by name; set before serving.
func (m *metrics) countOperations(names []string) {
	m.operations = map[string]bool{}
	for _, n := range names {
		if len(m.operations) == maxOperationLabels {
			break
		}
		m.operations[n] = true
	}
}

func newMetrics(pool *sql.DB) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.requestCollectors()
	m.liveCollectors()
	m.registry.MustRegister(m.requests, m.duration, m.authFailure, m.jwksFetches, m.executors,
		m.subscriptions, m.eventsDelivered, m.eventsDropped, m.eventsRendered, m.listenerReconnects, m.untrustedDocuments,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(pool, "taskgraph"),
	)
	return m
}

// requestCollectors are the requests', the operations' and the tokens' collectors.
func (m *metrics) requestCollectors() {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskgraph_graphql_requests_total",
		Help: "GraphQL requests by operation name (signed-in requests only; unauthenticated for the rest, unknown when refused before GraphQL) and outcome (ok, error, unauthenticated, unavailable, bad_request).",
	}, []string{"operation", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "taskgraph_http_request_duration_seconds",
		Help:    "HTTP request latency by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	m.authFailure = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskgraph_auth_failures_total",
		Help: "Refused bearer tokens by reason.",
	}, []string{"reason"})
	m.jwksFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskgraph_jwks_fetches_total",
		Help: "JWKS fetches by result (ok, error).",
	}, []string{"result"})
	m.executors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "taskgraph_operations_total",
		Help: "GraphQL operations by the executor that served them: compiled (one SQL statement builds the response) or resolvers (gqlgen).",
	}, []string{"executor"})
}

// liveCollectors are the subscriptions' collectors, and the trusted documents' count.
func (m *metrics) liveCollectors() {
	m.subscriptions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "taskgraph_subscriptions_open",
		Help: "Open GraphQL subscriptions (WebSocket and SSE).",
	})
	m.eventsDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskgraph_subscription_events_delivered_total",
		Help: "Change events queued for subscribers.",
	})
	m.eventsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskgraph_subscription_events_dropped_total",
		Help: "Change events not delivered: their subscriber was too slow (and was disconnected), or its worker's queue was full.",
	})
	m.eventsRendered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskgraph_subscription_events_rendered_total",
		Help: "Change events executed into a response: once per event and document shape that a user's subscribers share (delivered / rendered is the sharing).",
	})
	m.listenerReconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskgraph_events_listener_reconnects_total",
		Help: "Times the LISTEN connection (DATABASE_LISTEN_URL) was lost and re-established.",
	})
	m.untrustedDocuments = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "taskgraph_untrusted_documents_total",
		Help: "Documents not in TRUSTED_DOCUMENTS' manifest: refused (enforce) or run (log).",
	})
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

// operation counts an operation by the executor that served it (graph.Options.CountOperation).
func (m *metrics) operation(executor string) { m.executors.WithLabelValues(executor).Inc() }

// liveHooks lets the live package count without importing Prometheus.
func (m *metrics) liveHooks() live.Hooks {
	return live.Hooks{
		Subscriptions:       func(delta int) { m.subscriptions.Add(float64(delta)) },
		Delivered:           func(n int) { m.eventsDelivered.Add(float64(n)) },
		Dropped:             func(n int) { m.eventsDropped.Add(float64(n)) },
		ListenerReconnected: m.listenerReconnects.Inc,
	}
}

// request counts a finished request: its latency by route and, on /graphql, its operation and
// outcome.
func (m *metrics) request(info *requestInfo, status int, elapsed time.Duration) {
	route := routeLabel(info.route)
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	if route == "/graphql" {
		m.requests.WithLabelValues(m.operationLabel(info), outcome(status, info.gqlErrors)).Inc()
	}
}

// routeLabel names a route by the mux pattern that matched, without its method ("GET /{$}" is
// "/"), never by the raw path; "other" when no route matched (404, 405, CORS preflights).
func routeLabel(pattern string) string {
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "other"
	}
	return strings.TrimSuffix(path, "{$}")
}

var operationName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`) // METRICS_OPERATIONS' names

// operationLabel keeps the label set bounded: unparsed, unauthenticated and anonymous requests
// are folded, and a signed-in request's name is its own label only when METRICS_OPERATIONS
// lists it ("other" otherwise).
func (m *metrics) operationLabel(info *requestInfo) string {
	name := info.operation
	switch {
	case !info.parsed:
		return "unknown"
	case !info.signedIn:
		return "unauthenticated"
	case name == "":
		return "anonymous"
	case !m.operations[name]:
		return "other"
	}
	return name
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
