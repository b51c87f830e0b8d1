package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/pgbouncer"
)

// pooledScenario is page1 through PgBouncer in transaction pooling mode (issue #13 item 4): the
// same requests, users, tokens, connections and window as page1, against a server of its own
// whose DATABASE_URL goes through a PgBouncer started for it (DATABASE_LISTEN_URL stays direct:
// LISTEN needs a session). The report gives its ratio to page1 of the same run.
const pooledScenario = "page1-pgbouncer"

// pooledServer is a PgBouncer and the `serve` behind it.
type pooledServer struct {
	pgb     *pgbouncer.Process
	srv     *serverProc
	logPath string // where stop keeps PgBouncer's log
}

// startPooled starts a PgBouncer in front of upstream (the database's server, or the recording
// proxy for the calibration) with poolSize server connections, and a server through it; their
// logs are the build's server-pgbouncer<suffix>.log and pgbouncer<suffix>.log. The database is
// already migrated, so the server's own migration check at start finds nothing to do.
func (r *runner) startPooled(ctx context.Context, b *build, upstream, suffix string) (*pooledServer, error) {
	users := map[string]string{} // the role of BENCH_PG_URL, which the server connects as
	if u, err := url.Parse(b.db.url); err == nil && u.User != nil {
		users[u.User.Username()], _ = u.User.Password()
	}
	n := r.poolSize()
	pgb, err := pgbouncer.Start(pgbouncer.Options{Server: upstream, Users: users, PoolSize: n})
	if err != nil {
		return nil, err
	}
	p := &pooledServer{pgb: pgb, logPath: filepath.Join(b.out, "pgbouncer"+suffix+".log")}
	pooledURL, err := pgb.URL(b.db.url)
	if err == nil {
		env := append(append([]string(nil), r.cfg.ServerEnv...),
			"DATABASE_MAX_CONNS="+strconv.Itoa(n), "DATABASE_LISTEN_URL="+b.db.url)
		p.srv, err = startServer(ctx, b.bin, pooledURL, b.iss, filepath.Join(b.out, "server-pgbouncer"+suffix+".log"), env)
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop stops the server, then PgBouncer, and keeps PgBouncer's log.
func (p *pooledServer) stop() {
	if p == nil {
		return
	}
	p.srv.stop()
	p.pgb.Stop()
	_ = os.WriteFile(p.logPath, []byte(p.pgb.Log()), 0o644)
}

// poolSize is the server's DATABASE_MAX_CONNS as the bench runs it (BENCH_SERVER_ENV, or the
// server's default: the bench passes no GOMAXPROCS on, so the server's is the bench's), used as
// PgBouncer's default_pool_size: page1-pgbouncer then differs from page1 by the pooler alone, not
// by the number of PostgreSQL sessions.
func (r *runner) poolSize() int {
	if v, ok := r.serverEnv("DATABASE_MAX_CONNS"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return db.DefaultMaxConns()
}

// loadScenario loads one scenario: on the build's server, or for a pooled scenario on a
// PgBouncer and server started for it (and stopped after it).
func (r *runner) loadScenario(ctx context.Context, b *build, s *scenario) (*row, error) {
	if !s.pooled {
		return r.loadOne(ctx, b, s, b.srv, 0)
	}
	p, err := r.startPooled(ctx, b, b.db.url, "")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	return r.loadOne(ctx, b, s, p.srv, p.pgb.Pid())
}

// formatPooled compares page1 through PgBouncer with page1 direct, measured in the same run.
func formatPooled(direct, pooled *row, poolSize int) string {
	x := func(a, b float64) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("×%.2f", a/b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s / page1 (PgBouncer in transaction pooling, default_pool_size %d = the server's DATABASE_MAX_CONNS): ", pooled.Scenario, poolSize)
	fmt.Fprintf(&b, "req/s %.0f / %.0f = %s, p50 %.2f / %.2f ms = %s, p99 %.2f / %.2f ms = %s; ",
		pooled.RPS, direct.RPS, x(pooled.RPS, direct.RPS), pooled.P50, direct.P50, x(pooled.P50, direct.P50),
		pooled.P99, direct.P99, x(pooled.P99, direct.P99))
	fmt.Fprintf(&b, "PgBouncer CPU %.3f ms/req; server CPU %.2f / %.2f ms/req; round trips PgBouncer → PostgreSQL %.1f/req (server → PostgreSQL %.1f).",
		pooled.PoolerCPUms, pooled.CPUms, direct.CPUms, pooled.RoundTrips, direct.RoundTrips)
	return b.String()
}
