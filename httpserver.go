package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/taskgraph/taskgraph/internal/connlimit"
)

// shutdownGrace is how long in-flight requests may take to finish once shutdown begins.
const shutdownGrace = 10 * time.Second

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
