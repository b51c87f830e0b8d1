package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/tracing"
	"github.com/taskgraph/taskgraph/live"
)

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

// newApp is the app on dbx, its store set up for the pool it is on (ownSessions: no transaction
// pooler in between, db.RequirePooling).
func newApp(ctx context.Context, s startup, dbx *sqlx.DB, ownSessions bool, tr *tracing.Tracing) (*app, error) {
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
	a.store.OwnSessions = ownSessions
	if err := a.store.CheckLoginRole(ctx); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return a, nil
}
