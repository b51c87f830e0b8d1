package testkit

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/taskgraph/taskgraph/internal/pgbouncer"
)

// PgBouncer is a real PgBouncer in transaction pooling mode in front of the test PostgreSQL,
// started for one test and stopped by PID when it ends. With transaction pooling every
// transaction may run on any server connection, so anything a session keeps (a plain SET,
// LISTEN, a named prepared statement on PgBouncer before 1.21) leaks or breaks: that is what the
// pooler tests are for.
type PgBouncer struct {
	*pgbouncer.Process
}

// PgBouncerOptions tune the pooler. Zero values take the defaults.
type PgBouncerOptions struct {
	// PoolSize is default_pool_size: server connections per (database, user). Default 4, small
	// enough that transactions of different users really share server connections.
	PoolSize int
	// Mode is pool_mode; default "transaction".
	Mode string
}

// StartPgBouncer starts PgBouncer in front of the PostgreSQL of TEST_DATABASE_URL. A missing
// pgbouncer binary fails the test under CI (which installs it) and skips it elsewhere.
func StartPgBouncer(t testing.TB, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	server := testServer(t)
	users := map[string]string{testRole.Username: testRole.Password}
	if u := server.User.Username(); u != "" {
		pw, _ := server.User.Password()
		users[u] = pw
	}
	p, err := pgbouncer.Start(pgbouncer.Options{Server: server.String(), Users: users, PoolSize: opts.PoolSize, Mode: opts.Mode})
	skipIfMissing(t, err, pgbouncer.ErrNotInstalled)
	t.Cleanup(p.Stop)
	return &PgBouncer{p}
}

// URL returns databaseURL (a URL of the test PostgreSQL, e.g. from NewDBURL) rewritten to go
// through the pooler, with lib/pq's binary_parameters on, as the server's own pool has it (see
// db.Open): without it a statement with arguments outside a transaction takes two round trips,
// which a transaction pooler may hand to two different server connections.
func (p *PgBouncer) URL(t testing.TB, databaseURL string) string {
	t.Helper()
	pooled, err := p.Process.URL(databaseURL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	u, _ := url.Parse(pooled)
	q := u.Query()
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String()
}

// ServerSessions returns the process ids of the PostgreSQL sessions open on databaseURL's
// database (the pooler's server connections, when only the pooler connects to it), as a direct
// connection sees them in pg_stat_activity.
func ServerSessions(t testing.TB, databaseURL string) []int {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	admin, err := sql.Open("postgres", testServer(t).String()+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rows, err := admin.QueryContext(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`, u.Path[1:])
	if err != nil {
		t.Fatalf("testkit: pg_stat_activity: %v", err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// PoolerEnv names the environment variable that runs the data suites through a pooler: with
// TEST_POOLER=pgbouncer (make unit-pgbouncer), Route sends the code under test through a
// PgBouncer in transaction pooling mode.
const PoolerEnv = "TEST_POOLER"

// Pooled reports whether this run goes through PgBouncer (TEST_POOLER=pgbouncer).
func Pooled() bool { return os.Getenv(PoolerEnv) == "pgbouncer" }

// Route returns the URL the code under test should use for the test database at directURL:
// directURL itself, or with TEST_POOLER=pgbouncer the same database through a PgBouncer of the
// test's own (transaction pooling, 4 server connections). What needs a session of its own (a
// LISTEN, a role's session settings, the test's inspection of the server) keeps directURL.
func Route(t testing.TB, directURL string) string {
	t.Helper()
	switch v := os.Getenv(PoolerEnv); v {
	case "":
		return directURL
	case "pgbouncer":
		return StartPgBouncer(t, PgBouncerOptions{}).URL(t, directURL)
	default:
		t.Fatalf("testkit: %s=%q: the only pooler is pgbouncer", PoolerEnv, v)
		return ""
	}
}

// testServer is the PostgreSQL the tests use (TEST_DATABASE_URL), checked to answer, with its
// user and password and no database.
func testServer(t testing.TB) *url.URL {
	t.Helper()
	conf := baseConfig(t) // skips or fails when PostgreSQL is unreachable
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(conf.Host, conf.Port), Path: "/" + conf.Database}
	if conf.Password != "" {
		u.User = url.UserPassword(conf.User, conf.Password)
	} else {
		u.User = url.User(conf.User)
	}
	return u
}

// SessionState is what one PostgreSQL session behind the pooler keeps between transactions.
type SessionState struct {
	PID      int
	Role     string // current_setting('role'): "none" unless a session-level SET ROLE stuck
	UserUUID string // current_setting('app.user_uuid', true): "" unless a session-level set stuck
}

// ServerPIDs are the PostgreSQL backends of the pooler's server connections (SHOW SERVERS on its
// admin console), each checked through a direct connection to be a session on databaseURL's
// database.
func (p *PgBouncer) ServerPIDs(t testing.TB, databaseURL string) []int {
	t.Helper()
	admin, err := sql.Open("postgres", p.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rows, err := admin.QueryContext(context.Background(), `SHOW SERVERS`)
	if err != nil {
		t.Fatalf("testkit: SHOW SERVERS: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var pids []int
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			if c == "remote_pid" {
				pid, err := strconv.Atoi(vals[i].String)
				if err != nil {
					t.Fatalf("testkit: SHOW SERVERS remote_pid %q", vals[i].String)
				}
				pids = append(pids, pid)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sessions := map[int]bool{}
	for _, pid := range ServerSessions(t, databaseURL) {
		sessions[pid] = true
	}
	for _, pid := range pids {
		if !sessions[pid] {
			t.Fatalf("testkit: the pooler's server connection %d is no session on the database (sessions %v)", pid, sessions)
		}
	}
	return pids
}

// SessionStates opens as many transactions through the pooler at once as it may have server
// connections for databaseURL (poolSize), so each runs on a different one, and reads in each
// what the session carries over from earlier transactions. It fails the test unless every server
// connection the pooler had (ServerPIDs) was inspected.
func (p *PgBouncer) SessionStates(t testing.TB, databaseURL string, poolSize int) []SessionState {
	t.Helper()
	ctx := context.Background()
	before := p.ServerPIDs(t, databaseURL)
	pool, err := sql.Open("postgres", p.URL(t, databaseURL))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var states []SessionState
	var txs []*sql.Tx
	defer func() {
		for _, tx := range txs {
			_ = tx.Rollback()
		}
	}()
	for range poolSize {
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
		var s SessionState
		const q = `SELECT pg_backend_pid(), current_setting('role'), coalesce(current_setting('app.user_uuid', true), '')`
		if err := tx.QueryRowContext(ctx, q).Scan(&s.PID, &s.Role, &s.UserUUID); err != nil {
			t.Fatal(err)
		}
		states = append(states, s)
	}
	seen := map[int]bool{}
	for _, s := range states {
		seen[s.PID] = true
	}
	for _, pid := range before {
		if !seen[pid] {
			t.Fatalf("testkit: server session %d was not inspected (inspected %v): is the pool larger than %d?", pid, states, poolSize)
		}
	}
	return states
}
