package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/connlimit"
	"github.com/taskgraph/taskgraph/internal/tracing"
	"github.com/taskgraph/taskgraph/live"
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
	defer shutdownTracing(tr)
	if tr != nil {
		s.cfg.DB.WrapConnector = tr.Connector
	}
	dbx, err := openDatabase(ctx, s.cfg.DatabaseURL, s.cfg.ListenURL, s.cfg.DB)
	if err != nil {
		return err
	}
	defer dbx.Close()
	ln, err := listen(s.cfg)
	if err != nil {
		return err
	}
	defer ln.Close() // when start-up fails; serving closes it too
	addr := ln.Addr().String()
	a, err := newApp(ctx, s, dbx, tr)
	if err != nil {
		return err
	}
	metricsLn, err := a.listenMetrics()
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}
	if s.prepare != nil {
		if err := s.prepare(ctx, a, addr); err != nil {
			return err
		}
	}
	if err := a.startAuthAndLive(ctx); err != nil {
		return err
	}
	defer a.live.Close()
	s.serving(a, addr)
	if metricsLn == nil {
		return serveHTTP(ctx, ln, a.handler(), a.logger, a.drain)
	}
	return a.serveWithMetrics(ctx, ln, metricsLn)
}

// shutdownTracing exports what is buffered.
func shutdownTracing(tr *tracing.Tracing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tr.Shutdown(ctx)
}

// listen binds ADDR, capped by MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP.
func listen(cfg serverConfig) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ADDR: %w", err)
	}
	if cfg.Conns.Max > 0 || cfg.Conns.PerIP > 0 {
		ln = connlimit.Wrap(ln, cfg.Conns)
	}
	return ln, nil
}

// newApp is the app on dbx, its store set up for the pool it is on.
func newApp(ctx context.Context, s startup, dbx *sqlx.DB, tr *tracing.Tracing) (*app, error) {
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
	var err error
	if a.store.OwnSessions, err = db.OwnSessions(ctx, s.cfg.DatabaseURL, s.cfg.ListenURL); err != nil {
		return nil, err
	}
	if err := a.store.CheckLoginRole(ctx); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return a, nil
}

// listenMetrics binds METRICS_ADDR, if set (nil otherwise).
func (a *app) listenMetrics() (net.Listener, error) {
	if a.cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	a.metricsAddr = ln.Addr().String()
	return ln, nil
}

// startAuthAndLive builds the verifier from a.cfg.Auth and starts the live hub; the caller closes
// the hub once it has started.
func (a *app) startAuthAndLive(ctx context.Context) error {
	var err error
	if a.verifier, err = auth.NewVerifier(ctx, a.cfg.Auth, a.store, a.keys.hooks(warnJWKS(a.metrics.authHooks(), a.logger, a.cfg.Auth.JWKSURL))); err != nil {
		return err
	}
	a.live = live.NewHub(a.store, a.cfg.Live, a.metrics.liveHooks(), a.logger)
	if err := a.live.Start(ctx, a.cfg.ListenURL); err != nil {
		return err
	}
	a.watchKeys(ctx)
	// With the logical feed, changes come from the WAL: write transactions send no NOTIFY.
	a.store.LogicalFeed = a.live.Feed().Kind == live.FeedLogical
	return nil
}
