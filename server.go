package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/rs/cors"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/ide"
	"github.com/taskgraph/taskgraph/internal/apierr"
	"github.com/taskgraph/taskgraph/internal/connlimit"
	"github.com/taskgraph/taskgraph/internal/tracing"
	"github.com/taskgraph/taskgraph/live"
	"github.com/taskgraph/taskgraph/migrations"
)

const (
	maxBodyBytes  = 1 << 20
	shutdownGrace = 10 * time.Second
)

func serveCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	cfg, err := cl.env.serve()
	if err != nil {
		return err
	}
	return start(ctx, startup{
		cfg:    cfg,
		logger: slog.New(contextHandler{slog.NewJSONHandler(cl.stderr, nil)}),
		serving: func(a *app, addr string) {
			attrs := []any{"addr", addr, "jwks", cfg.Auth.JWKSURL,
				"issuer", cfg.Auth.Issuer, "algorithms", strings.Join(cfg.Auth.Algorithms, ",")}
			if a.metricsAddr != "" {
				attrs = append(attrs, "metrics_addr", a.metricsAddr)
			}
			a.logger.Info("serving", attrs...)
		},
	})
}

// app is everything a running server needs; serve and dev fill it in differently.
type app struct {
	logger   *slog.Logger
	db       *sqlx.DB
	store    *db.Store // on db, with cfg.DB's statement timeout
	verifier *auth.Verifier
	metrics  *metrics
	cfg      serverConfig
	live     *live.Hub
	// inflight counts the HTTP requests being served, streams aside: shutdown lets them finish
	// before it delivers the last events and closes the sockets.
	inflight atomic.Int64
	shares   *shares // OPERATIONS_PER_USER, made by handler
	keys     keyWatch
	// metricsAddr is the bound address of METRICS_ADDR's listener; "" when /metrics is served
	// with the API.
	metricsAddr string
	// playgroundHeaders are put in GraphiQL's header editor (dev: the development user's token).
	playgroundHeaders map[string]string
	// routes adds routes that exist in one mode only (dev: the development JWKS).
	routes func(route func(pattern string, h http.Handler))
	// tracing is the OpenTelemetry exporter; nil when tracing is off.
	tracing *tracing.Tracing
}

// startup is what serve and dev bring to the one start-up path.
type startup struct {
	cfg    serverConfig
	logger *slog.Logger
	// prepare, if set, runs once the database is open and the address bound, before the verifier
	// is built from app.cfg.Auth (dev makes its issuer for the bound address here).
	prepare func(ctx context.Context, a *app, addr string) error
	// serving runs just before the server answers.
	serving func(a *app, addr string)
}

// start is the start-up of serve and dev: it opens the database (applying the migrations), binds
// the address, builds the verifier and serves until SIGINT or SIGTERM, which also stops the
// verifier's background JWKS refresh.
func start(ctx context.Context, s startup) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tr, err := tracing.Start(ctx, s.cfg.Tracing)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx) // exports what is buffered
	}()
	if tr != nil {
		s.cfg.DB.WrapConnector = tr.Connector
	}
	dbx, err := openDatabase(ctx, s.cfg.DatabaseURL, s.cfg.ListenURL, s.cfg.DB)
	if err != nil {
		return err
	}
	defer dbx.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	defer ln.Close() // when start-up fails; serving closes it too
	if s.cfg.Conns.Max > 0 || s.cfg.Conns.PerIP > 0 {
		ln = connlimit.Wrap(ln, s.cfg.Conns)
	}
	addr := ln.Addr().String()
	a := &app{logger: s.logger, db: dbx, store: db.NewStore(dbx), metrics: newMetrics(dbx.DB), cfg: s.cfg, tracing: tr}
	names := s.cfg.MetricsOperations
	if len(names) == 0 && s.cfg.Trusted != nil {
		names = s.cfg.Trusted.OperationNames() // the clients' own operations, and only those
	}
	a.metrics.countOperations(names)
	// PostgreSQL stops a statement at the request's deadline even if the cancellation the context
	// sends does not reach it: REQUEST_TIMEOUT is the one setting of both.
	a.store.StatementTimeout = s.cfg.Limits.RequestTimeout
	// Statements stay prepared on sessions of their own, never through a transaction pooler; a
	// login that is the app role itself spares each transaction its SET ROLE.
	if a.store.OwnSessions, err = ownSessions(ctx, s.cfg.DatabaseURL, s.cfg.ListenURL); err != nil {
		return err
	}
	if err := a.store.CheckLoginRole(ctx); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	var metricsLn net.Listener
	if s.cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		defer metricsLn.Close()
		a.metricsAddr = metricsLn.Addr().String()
	}
	if s.prepare != nil {
		if err := s.prepare(ctx, a, addr); err != nil {
			return err
		}
	}
	if a.verifier, err = auth.NewVerifier(ctx, a.cfg.Auth, a.store, a.keys.hooks(warnJWKS(a.metrics.authHooks(), a.logger, a.cfg.Auth.JWKSURL))); err != nil {
		return err
	}
	a.live = live.NewHub(a.store, a.cfg.Live, a.metrics.liveHooks(), a.logger)
	if err := a.live.Start(ctx, a.cfg.ListenURL); err != nil {
		return err
	}
	defer a.live.Close()
	a.watchKeys(ctx)
	// With the logical feed, changes come from the WAL: write transactions send no NOTIFY.
	a.store.LogicalFeed = a.live.Feed().Kind == live.FeedLogical
	s.serving(a, addr)
	if metricsLn == nil {
		return serveHTTP(ctx, ln, a.handler(), a.logger, a.drain)
	}
	return a.serveWithMetrics(ctx, ln, metricsLn)
}

// serveWithMetrics serves the API on ln and /metrics alone on metricsLn until ctx is done, or
// until either fails (which stops the other).
func (a *app) serveWithMetrics(ctx context.Context, ln, metricsLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.handler())
	metricsDone := make(chan error, 1)
	go func() {
		err := serveHTTP(ctx, metricsLn, mux, a.logger, nil)
		cancel()
		metricsDone <- err
	}()
	err := serveHTTP(ctx, ln, a.handler(), a.logger, a.drain)
	cancel()
	if merr := <-metricsDone; err == nil {
		err = merr
	}
	return err
}

// drain is the live part of a graceful shutdown: once the requests in flight have finished
// (their commits are the last events), every subscriber gets what was committed, then sockets
// close with 1001 and event streams end.
func (a *app) drain(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for a.inflight.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	a.live.Shutdown(ctx)
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

// openDatabase applies the migrations through sessionURL (DATABASE_LISTEN_URL, by default
// DATABASE_URL), then opens the pool on databaseURL. The migrations hold a session-level
// advisory lock, so that replicas starting together take turns, and the live-updates listener
// LISTENs on that same URL: both need PostgreSQL sessions of their own, which a transaction
// pooler does not give, so a sessionURL that shares sessions is refused. databaseURL may go
// through one.
func openDatabase(ctx context.Context, databaseURL, sessionURL string, opts db.Options) (*sqlx.DB, error) {
	if err := requirePooling(ctx, databaseURL, sessionURL); err != nil {
		return nil, err
	}
	if err := migrate(ctx, sessionURL); err != nil {
		return nil, err
	}
	dbx, err := db.Open(ctx, databaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: cannot connect: %w", err)
	}
	return dbx, nil
}

// migrate applies the pending migrations on a short-lived pool of its own.
func migrate(ctx context.Context, sessionURL string) error {
	mx, err := db.Open(ctx, sessionURL, db.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("%s: cannot connect: %w", "migrations", err)
	}
	defer mx.Close()
	if err := migrations.Up(ctx, mx.DB); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// handler is the routes and the middleware stack, outermost first: the request log and metrics
// (observe), CORS, the mux; on /graphql, auth.Middleware, the body limit, then gqlgen. A
// WebSocket upgrade of GET /graphql skips auth.Middleware: the socket authenticates itself
// (live.Websocket), so a refused token closes it with 4403 and the reason, which a browser's
// WebSocket can read, where it could not read a 401.
func (a *app) handler() http.Handler {
	c := cors.New(cors.Options{
		AllowedOrigins: a.cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		// Apollo Client's clientAwareness headers too: an app that names itself is not blocked.
		AllowedHeaders: []string{"Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Request-Id",
			"Apollographql-Client-Name", "Apollographql-Client-Version"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After", "X-Request-Id"},
		// For a client sending credentials: "include" (cookies give no access here: only the
		// bearer token does, so allowing them to the listed origins grants nothing).
		AllowCredentials: true,
		MaxAge:           600,
	})
	ws := a.live.Websocket(a.verifier, c.OriginAllowed)
	sse := a.live.SSE()
	a.shares = newShares(a.cfg.Limits.OperationsPerUser)
	gql := graph.NewServer(a.store, graph.Options{
		Shares:         a.shares.graph(),
		Introspection:  a.cfg.Introspection,
		RequestTimeout: a.cfg.Limits.RequestTimeout,
		MaxTagsPerTask: a.cfg.Limits.MaxTagsPerTask,
		MaxTagsPerUser: a.cfg.Limits.MaxTagsPerUser,
		Logger:         a.logger,
		Live:           a.live,
		Transports:     []graphql.Transport{ws.Transport(), sse.Transport()},
		Trusted:        a.cfg.Trusted,
		Tracer:         a.tracer(),
		CountOperation: a.metrics.operation,
		CountRender:    a.metrics.eventsRendered.Inc,
		ResolversOnly:  a.cfg.ResolversOnly,
	})
	observeGraphQL(gql)
	inner := sse.Handler(gql)
	if a.cfg.Trusted != nil {
		a.cfg.Trusted.Untrusted = a.metrics.untrustedDocuments.Inc
		inner = a.cfg.Trusted.Handler(inner)
	}
	api := a.counted(live.RefuseSingleConnection(auth.Middleware(a.verifier)(a.shares.Handler(limitBody(inner)))))
	socket := ws.Handler(gql)

	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, routed(h)) }
	route("POST /graphql", api)
	route("PUT /graphql", api) // graphql-sse's single-connection reservation: refused with a reason
	route("GET /graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if live.IsUpgrade(r) {
			if info := infoFrom(r.Context()); info != nil {
				info.socket = true
			}
			socket.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}))
	route("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	route("GET /readyz", http.HandlerFunc(a.ready))
	if a.cfg.MetricsAddr == "" && a.cfg.MetricsPublic {
		route("GET /metrics", a.metrics.handler())
	}
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
	return a.tracing.Handler(observe(a.logger, a.metrics, connlimit.NewProxied(a.cfg.Conns).Handler(c.Handler(mux))))
}

// tracer is the tracer of operation spans, or nil when tracing is off.
func (a *app) tracer() trace.Tracer {
	if a.tracing == nil {
		return nil
	}
	return a.tracing.Tracer
}

// ready answers 200 only when PostgreSQL answers and JWKS keys are loaded.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"database": "ok", "jwks": "ok"}
	ok := true
	if err := a.db.PingContext(ctx); err != nil {
		body["database"] = "unreachable"
		ok = false
	}
	if !a.verifier.KeysLoaded() {
		body["jwks"] = "no keys loaded yet"
		ok = false
	}
	// Live updates: which feed runs, and whether it hears changes (a lost or silent connection:
	// subscribers have been told EVENTS_LOST and it is reconnecting).
	switch f := a.live.Feed(); {
	case f.Kind == "": // not started
	case f.Up:
		body["live"] = string(f.Kind)
	default:
		body["live"] = string(f.Kind) + " feed down: " + f.Err
		ok = false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	body["status"] = map[bool]string{true: "ready", false: "not ready"}[ok]
	writeJSON(w, status, body)
}

// maxAnonymousBodyBytes bounds a body sent without a token, before it is buffered: such a
// request can only read __typename and introspection, in a document of at most 8 KiB.
const maxAnonymousBodyBytes = 64 << 10

// limitBody refuses bodies over 1 MiB (64 KiB without a token) before gqlgen reads them.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, what := int64(maxBodyBytes), "1 MiB"
		if _, signedIn := auth.UserFrom(r.Context()); !signedIn {
			limit, what = maxAnonymousBodyBytes, "64 KiB without a token"
		}
		if r.ContentLength > limit {
			apierr.Write(w, http.StatusRequestEntityTooLarge, apierr.BadRequest, "request body is larger than "+what, nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveHTTP serves until ctx is done, then stops accepting, lets in-flight requests finish (up to
// shutdownGrace) and returns nil. drain, if set, ends the long-lived connections meanwhile
// (http.Server.Shutdown neither waits for nor closes hijacked ones, and would wait for streams).
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, drain func(context.Context)) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cl, ok := ln.(*connlimit.Listener); ok {
		srv.ConnState = cl.ConnState // idle connections are closed first near a cap
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(sctx) }()
	if drain != nil {
		drain(sctx)
	}
	if err := <-shutdown; err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// warnJWKS adds to hooks a WARN naming the JWKS URL when a fetch fails after a success or at start
// (the server starts anyway and refuses tokens until keys arrive), and an INFO when keys arrive
// again: one line per change of state, not per retry.
func warnJWKS(hooks auth.Hooks, logger *slog.Logger, url string) auth.Hooks {
	count := hooks.JWKSFetch
	var failing atomic.Bool
	hooks.JWKSFetch = func(err error) {
		if count != nil {
			count(err)
		}
		switch {
		case err != nil && !failing.Swap(true):
			logger.Warn("the JWKS cannot be fetched; tokens signed with keys not yet loaded are refused until it can", "jwks", url, "error", err.Error())
		case err == nil && failing.Swap(false):
			logger.Info("the JWKS is fetched again", "jwks", url)
		}
	}
	return hooks
}
