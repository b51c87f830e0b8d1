package testkit_test

import (
	"context"
	"database/sql"
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
