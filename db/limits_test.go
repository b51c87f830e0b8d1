package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// StatementTimeout is each transaction's statement_timeout, so PostgreSQL stops a statement that
// outlives it; without it the session's setting stays. Either way, and when the context's deadline
// passes first, the error is Canceled.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	x := testkit.NewDB(t)
	user := testkit.CreateUser(t, x, "sub", "a@example.com", "A")
	ctx := context.Background()
	s := NewStore(x)
	setting := func() string {
		var v string
		if err := s.withTx(ctx, user, func(tx *sqlx.Tx, _ time.Time) error {
			return tx.GetContext(ctx, &v, `SHOW statement_timeout`)
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := setting(); v != "0" {
		t.Fatalf("without StatementTimeout: %q, want the session's 0", v)
	}
	s.StatementTimeout = 150 * time.Millisecond
	if v := setting(); v != "150ms" {
		t.Fatalf("statement_timeout %q, want 150ms", v)
	}
	sleep := func(ctx context.Context) error {
		return s.withTx(ctx, user, func(tx *sqlx.Tx, _ time.Time) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_sleep(30)`)
			return err
		})
	}
	if err := sleep(ctx); !Canceled(err) {
		t.Fatalf("past statement_timeout: %v", err)
	}
	s.StatementTimeout = 0
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if err := sleep(short); !Canceled(err) {
		t.Fatalf("past the context's deadline: %v", err)
	}
	if Canceled(errors.New("db: something else")) || Canceled(ErrNotFound) {
		t.Fatal("Canceled of another error")
	}
	// The setting is the transaction's: the pooled connection keeps the session's.
	var v string
	if err := x.GetContext(ctx, &v, `SHOW statement_timeout`); err != nil || v != "0" {
		t.Fatalf("session after the transactions: %q %v", v, err)
	}
}

// NewTag.MaxTags refuses the next tag with ErrTagLimit, exactly, under concurrent creations.
func TestTagLimit(t *testing.T) {
	t.Parallel()
	x := testkit.NewDB(t)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	ctx := context.Background()
	s := NewStore(x)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.CreateTag(ctx, a, NewTag{Name: fmt.Sprintf("t%d", i), MaxTags: 6})
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrTagLimit):
			t.Errorf("unexpected error %v", err)
		}
	}
	tags, err := s.Tags(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if created != 6 || len(tags) != 6 {
		t.Fatalf("%d created, %d held; want 6", created, len(tags))
	}
	// Another user's tags do not count; a name conflict is still a conflict.
	if _, err := s.CreateTag(ctx, b, NewTag{Name: "t1", MaxTags: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTag(ctx, b, NewTag{Name: "T1", MaxTags: 6}); !errors.Is(err, ErrConflict) {
		t.Fatalf("conflict under a limit: %v", err)
	}
}
