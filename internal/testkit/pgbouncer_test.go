package testkit_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// The pooler really pools by transaction: two client connections share one server connection,
// and a session-level setting made through one is seen through the other. That is the leak the
// pooler tests look for, so the harness must be able to show it.
func TestPgBouncerSharesServerConnectionsBetweenClients(t *testing.T) {
	pgb := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{PoolSize: 1})
	pool, err := sql.Open("postgres", pgb.URL(t, testkit.NewDBURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	c1, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	var pid1, pid2 int
	if err := c1.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid1); err != nil {
		t.Fatal(err)
	}
	if err := c2.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid2); err != nil {
		t.Fatal(err)
	}
	if pid1 != pid2 {
		t.Fatalf("two clients got server backends %d and %d; with default_pool_size=1 they must share one", pid1, pid2)
	}
	if _, err := c1.ExecContext(ctx, `SELECT set_config('app.leak', 'from-c1', false)`); err != nil {
		t.Fatal(err)
	}
	var seen sql.NullString
	if err := c2.QueryRowContext(ctx, `SELECT current_setting('app.leak', true)`).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if seen.String != "from-c1" {
		t.Fatalf("client 2 saw app.leak = %q; transaction pooling should have carried client 1's session setting over", seen.String)
	}

	admin, err := sql.Open("postgres", pgb.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The admin console speaks only the simple query protocol: no arguments.
	rows, err := admin.QueryContext(ctx, `SHOW POOLS`)
	if err != nil {
		t.Fatalf("admin console: %v\n%s", err, pgb.Log())
	}
	rows.Close()
}

// Route sends the code under test through a PgBouncer of the test's own when TEST_POOLER says so,
// and leaves the URL alone otherwise.
func TestRouteGoesThroughPgBouncerWhenAsked(t *testing.T) {
	direct := testkit.NewDBURL(t)
	t.Setenv(testkit.PoolerEnv, "")
	if got := testkit.Route(t, direct); got != direct {
		t.Fatalf("without %s: Route = %s, want the direct URL", testkit.PoolerEnv, got)
	}
	t.Setenv(testkit.PoolerEnv, "pgbouncer")
	routed := testkit.Route(t, direct)
	if routed == direct {
		t.Fatal("with TEST_POOLER=pgbouncer: Route returned the direct URL")
	}
	// What listens there is a PgBouncer: its admin console (database "pgbouncer") answers SHOW VERSION.
	u, err := url.Parse(routed)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.User, u.RawQuery = "/pgbouncer", url.User("postgres"), "sslmode=disable"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var version string
	if err := admin.QueryRowContext(context.Background(), `SHOW VERSION`).Scan(&version); err != nil || !strings.HasPrefix(version, "PgBouncer") {
		t.Fatalf("SHOW VERSION through the routed address: %q, %v; want PgBouncer's", version, err)
	}
}
