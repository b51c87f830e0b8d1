package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/taskgraph/taskgraph/auth"
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
	dbx, ownSessions, err := openDatabase(ctx, s.cfg.DatabaseURL, s.cfg.ListenURL, s.cfg.DB)
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
	a, err := newApp(ctx, s, dbx, ownSessions, tr)
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
	a.keys.start(ctx, a.live, a.verifier, a.logger)
	// With the logical feed, changes come from the WAL: write transactions send no NOTIFY.
	a.store.LogicalFeed = a.live.Feed().Kind == live.FeedLogical
	return nil
}
