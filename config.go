package main

import (
	"github.com/taskgraph/taskgraph/internal/tracing"

	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/connlimit"
	"github.com/taskgraph/taskgraph/live"
)

// Defaults of the server's own settings; auth.NewConfig holds those of the auth settings.
const (
	defaultAddr = ":8080"
	devAddr     = "127.0.0.1:8080"
)

// devOrigins are the browser origins dev allows when CORS_ORIGINS is unset: a frontend on
// Next.js's default port.
var devOrigins = []string{"http://localhost:3000", "http://127.0.0.1:3000"}

// devCORSOrigins is CORS_ORIGINS when set (Vite's :5173, say), else devOrigins.
func devCORSOrigins(list string) []string {
	if o := corsOrigins(list, auth.Config{}); len(o) > 0 {
		return o
	}
	return devOrigins
}

// serverConfig is how the server runs: serve reads all of it from the environment; dev reads
// little, fixes the rest and sets Auth once its address is bound.
type serverConfig struct {
	Addr          string
	DatabaseURL   string
	DB            db.Options // DATABASE_MAX_CONNS
	Auth          auth.Config
	CORSOrigins   []string
	Introspection bool
	Playground    bool
	// ResolversOnly is GRAPHQL_RESOLVERS_ONLY: no compiled reads (graph.Options.ResolversOnly).
	ResolversOnly bool
	// ListenURL is DATABASE_LISTEN_URL: the direct connection the live-updates listener uses.
	ListenURL string
	Live      live.Config
	// MetricsAddr, when set, is a listener of its own for /metrics, which the API's address then
	// does not serve (keep the metrics off the public port).
	MetricsAddr string
	// MetricsPublic (METRICS_PUBLIC) serves /metrics on ADDR when MetricsAddr is unset; off by
	// default in serve, on in dev.
	MetricsPublic bool
	// MetricsOperations (METRICS_OPERATIONS) are the operation names counted by name.
	MetricsOperations []string
	Limits            limits
	// Conns caps connections: MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP, TRUSTED_PROXIES.
	Conns connlimit.Config
	// Trusted is TRUSTED_DOCUMENTS' manifest in TRUSTED_DOCUMENTS_MODE; nil runs any document.
	Trusted *graph.TrustedDocuments
	// Tracing is the OTEL_* variables: where traces go, if anywhere.
	Tracing tracing.Config
}

// limits are the configurable bounds on a request (README.md, Limits); the others are constants
// of graph.
type limits struct {
	RequestTimeout time.Duration // REQUEST_TIMEOUT
	MaxTagsPerTask int           // MAX_TAGS_PER_TASK
	MaxTagsPerUser int           // MAX_TAGS_PER_USER
	// OperationsPerUser is OPERATIONS_PER_USER (shares.go); 0 leaves requests unbounded.
	OperationsPerUser int
}

// maxRequestTimeout keeps REQUEST_TIMEOUT within the HTTP server's write timeout, so that the
// answer saying the deadline passed can still be written.
const maxRequestTimeout = 50 * time.Second

// limits reads REQUEST_TIMEOUT, MAX_TAGS_PER_TASK and MAX_TAGS_PER_USER.
func (e environment) limits() (limits, error) {
	l := limits{RequestTimeout: graph.DefaultRequestTimeout, MaxTagsPerTask: graph.DefaultMaxTagsPerTask, MaxTagsPerUser: graph.DefaultMaxTagsPerUser}
	if v := e("REQUEST_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxRequestTimeout {
			return l, fmt.Errorf("REQUEST_TIMEOUT: %q is not a Go duration between 0 and %s (e.g. 10s)", v, maxRequestTimeout)
		}
		l.RequestTimeout = d
	}
	for _, n := range []struct {
		key string
		dst *int
	}{{"MAX_TAGS_PER_TASK", &l.MaxTagsPerTask}, {"MAX_TAGS_PER_USER", &l.MaxTagsPerUser}} {
		if v := e(n.key); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > 100000 {
				return l, fmt.Errorf("%s: %q is not a whole number from 1 to 100000", n.key, v)
			}
			*n.dst = i
		}
	}
	return l, nil
}

// database reads the pool's settings: DATABASE_MAX_CONNS, a positive number of sessions
// (default db.DefaultMaxConns()).
func (e environment) database() (db.Options, error) {
	n, err := e.positive("DATABASE_MAX_CONNS", db.DefaultMaxConns())
	return db.Options{MaxConns: n}, err
}

// auth reads BETTER_AUTH_URL and the AUTH_* variables (auth.ConfigFromEnv).
func (e environment) auth() (auth.Config, error) { return auth.ConfigFromEnv(e) }

// serve reads serve's configuration; BETTER_AUTH_URL is required.
func (e environment) serve() (serverConfig, error) {
	authCfg, err := e.auth()
	if errors.Is(err, auth.ErrNoBetterAuthURL) {
		return serverConfig{}, errors.New("BETTER_AUTH_URL is not set: set it to your Better Auth base URL (e.g. http://localhost:3000), or run 'go run . dev' to explore locally without Better Auth")
	}
	if err != nil {
		return serverConfig{}, err
	}
	c := serverConfig{
		Addr:        e.or("ADDR", defaultAddr),
		DatabaseURL: e.databaseURL(),
		Auth:        authCfg,
		CORSOrigins: corsOrigins(e("CORS_ORIGINS"), authCfg),
		MetricsAddr: e("METRICS_ADDR"),
	}
	if err := e.serveSettings(&c); err != nil {
		return c, err
	}
	c.Tracing = tracing.ConfigFromEnv(e)
	if c.Trusted != nil && c.Trusted.Enforced() {
		c.Introspection = false // only the manifest's documents run; the schema stays unpublished
	}
	return c, e.liveSettings(&c)
}

// liveSettings reads DATABASE_LISTEN_URL (default DATABASE_URL: LISTEN needs a direct
// connection, not a transaction-mode pooler) and the live-updates settings into c.
func (e environment) liveSettings(c *serverConfig) (err error) {
	c.ListenURL = e.sessionURL()
	c.Live, err = e.live()
	return err
}

// serveSettings reads the rest of serve's settings into c, in this order; the first error stops.
func (e environment) serveSettings(c *serverConfig) error {
	for _, step := range []func() error{
		func() (err error) { c.DB, err = e.database(); return err },
		func() (err error) { c.Conns, err = e.connections(c.DB.MaxConns); return err },
		e.boolInto("METRICS_PUBLIC", &c.MetricsPublic),
		func() (err error) { c.MetricsOperations, err = metricsOperations(e("METRICS_OPERATIONS")); return err },
		e.boolInto("GRAPHQL_INTROSPECTION", &c.Introspection),
		e.boolInto("GRAPHQL_PLAYGROUND", &c.Playground),
		e.boolInto("GRAPHQL_RESOLVERS_ONLY", &c.ResolversOnly),
		func() (err error) { c.Limits, err = e.limits(); return err },
		func() (err error) {
			c.Limits.OperationsPerUser, err = e.positive("OPERATIONS_PER_USER", defaultOperationsPerUser(c.DB.MaxConns))
			return err
		},
		func() (err error) { c.Trusted, err = e.trusted(); return err },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// trusted loads TRUSTED_DOCUMENTS in TRUSTED_DOCUMENTS_MODE (enforce by default); nil when unset.
func (e environment) trusted() (*graph.TrustedDocuments, error) {
	path, mode := e("TRUSTED_DOCUMENTS"), e("TRUSTED_DOCUMENTS_MODE")
	if path == "" {
		if mode != "" {
			return nil, errors.New("TRUSTED_DOCUMENTS_MODE is set but TRUSTED_DOCUMENTS (the manifest's path) is not")
		}
		return nil, nil
	}
	if mode == "" {
		mode = string(graph.TrustedEnforce)
	}
	t, err := graph.LoadTrustedDocuments(path, graph.TrustedMode(mode))
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_DOCUMENTS: %w", err)
	}
	return t, nil
}

// corsOrigins is CORS_ORIGINS (comma-separated) or, by default, Better Auth's origin: the
// frontend that signs users in usually serves Better Auth too.
func corsOrigins(list string, authCfg auth.Config) []string {
	if list == "" {
		if o := authCfg.Origin(); o != "" {
			return []string{o}
		}
		return nil
	}
	var origins []string
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, strings.TrimRight(o, "/"))
		}
	}
	return origins
}

// dev reads what dev takes from the environment: APP_ENV (production refuses), ADDR (loopback
// only), DATABASE_URL, DATABASE_MAX_CONNS and the live-updates settings. The rest is fixed for local exploration; Auth is set by dev itself.
func (e environment) dev() (serverConfig, error) {
	if strings.EqualFold(e("APP_ENV"), "production") {
		return serverConfig{}, errors.New("refusing to start: APP_ENV=production, and dev trusts a development key; use 'serve'")
	}
	addr := e.or("ADDR", devAddr)
	if err := requireLoopback(addr); err != nil {
		return serverConfig{}, err
	}
	l, err := e.limits()
	if err != nil {
		return serverConfig{}, err
	}
	dbOpts, err := e.database()
	if err != nil {
		return serverConfig{}, err
	}
	c := serverConfig{Addr: addr, DatabaseURL: e.databaseURL(), DB: dbOpts, CORSOrigins: devCORSOrigins(e("CORS_ORIGINS")), Introspection: true, Playground: true, Limits: l,
		MetricsPublic: true, Tracing: tracing.ConfigFromEnv(e)}
	return c, e.liveSettings(&c)
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ADDR: %q is not host:port: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("ADDR: dev only listens on loopback (e.g. 127.0.0.1:8080), not %q", addr)
}

// metricsOperations reads METRICS_OPERATIONS: operation names, comma-separated, at most
// maxOperationLabels.
func metricsOperations(list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !operationName.MatchString(n) {
			return nil, fmt.Errorf("METRICS_OPERATIONS: %q is not a GraphQL operation name", n)
		}
		names = append(names, n)
	}
	if len(names) > maxOperationLabels {
		return nil, fmt.Errorf("METRICS_OPERATIONS: %d names, at most %d", len(names), maxOperationLabels)
	}
	return names, nil
}
