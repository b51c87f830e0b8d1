package migrations_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/google/uuid"
	_ "github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/migrations"
)

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestUpConcurrentlyThenNothingPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, testkit.NewEmptyDBURL(t))

	n, err := migrations.Pending(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("Pending on an empty database = %d, want every migration (>= 2)", n)
	}

	// Several replicas starting at once: the advisory lock lets exactly one migrate.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- migrations.Up(ctx, db)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Up: %v", err)
		}
	}
	if n, err := migrations.Pending(ctx, db); err != nil || n != 0 {
		t.Fatalf("Pending after Up = %d, %v; want 0, nil", n, err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("second Up: %v", err)
	}
}

// Better Auth may have migrated first: its "user" table and rows exist, without our uuid column.
func TestUpAfterBetterAuthFillsUUIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, testkit.NewEmptyDBURL(t))
	const ba = `CREATE TABLE "user" (id text PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE,
		"emailVerified" boolean NOT NULL, image text, "createdAt" timestamp NOT NULL, "updatedAt" timestamp NOT NULL);
		INSERT INTO "user" VALUES ('a', 'A', 'a@x', false, null, now(), now()), ('b', 'B', 'b@x', false, null, now(), now());`
	if _, err := db.ExecContext(ctx, ba); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var a, b uuid.UUID
	if err := db.QueryRowContext(ctx, `SELECT (SELECT uuid FROM "user" WHERE id='a'), (SELECT uuid FROM "user" WHERE id='b')`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a == uuid.Nil || b == uuid.Nil || a == b {
		t.Fatalf("existing rows got uuids %v and %v, want two distinct non-nil values", a, b)
	}
	var img sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT image FROM "user" WHERE id='a'`).Scan(&img); err != nil {
		t.Fatalf("Better Auth's columns must stay: %v", err)
	}
}
