package db_test

import (
	"context"
	"testing"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// A direct connection keeps a session per client; PgBouncer in transaction mode hands one
// session to both clients, and DetectPooling tells the two apart.
func TestDetectPooling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := testkit.NewDBURL(t)
	p, err := db.DetectPooling(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	if p.SharesSessions {
		t.Fatalf("direct PostgreSQL: %+v, want two sessions of their own", p)
	}
	for _, size := range []int{1, 4} {
		pooled := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{PoolSize: size}).URL(t, direct)
		p, err := db.DetectPooling(ctx, pooled)
		if err != nil {
			t.Fatal(err)
		}
		if !p.SharesSessions {
			t.Fatalf("PgBouncer in transaction mode, pool size %d: %+v, want shared sessions", size, p)
		}
	}
}
