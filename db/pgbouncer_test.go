package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// Behind PgBouncer in transaction mode with a single server connection, every transaction of
// every user runs on the same PostgreSQL session. A transaction for B that follows one for A
// (committed, failed or canceled) sees only B's rows, and afterwards the session carries no
// role and no user: everything the store sets is transaction-local.
func TestPooledSessionCarriesNothingBetweenUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := testkit.NewDBURL(t)
	pgb := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{PoolSize: 1})
	x, err := db.Open(ctx, pgb.URL(t, direct), db.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	s := db.NewStore(x)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	for _, u := range []struct {
		id    uuid.UUID
		title string
	}{{a, "a's"}, {a, "a's"}, {b, "b's"}} {
		if _, err := s.CreateTask(ctx, u.id, db.NewTask{Title: u.title}); err != nil {
			t.Fatal(err)
		}
	}
	titles := func(user uuid.UUID) []string {
		t.Helper()
		page, err := s.ListTasks(ctx, user, db.TaskQuery{Order: db.TaskOrder{Field: db.SortCreatedAt}, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, task := range page.Tasks {
			out = append(out, task.Title)
		}
		return out
	}
	onlyB := func(after string) {
		t.Helper()
		if got := titles(b); len(got) != 1 || got[0] != "b's" {
			t.Fatalf("B after %s: %q, want [b's]", after, got)
		}
		if _, err := s.Tags(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := titles(a); len(got) != 2 {
		t.Fatalf("A sees %q", got)
	}
	onlyB("A's read")
	if _, err := s.CreateTask(ctx, a, db.NewTask{Title: ""}); err == nil {
		t.Fatal("an empty title was accepted")
	}
	onlyB("A's failed write")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ListTasks(canceled, a, db.TaskQuery{Order: db.TaskOrder{Field: db.SortCreatedAt}, Limit: 50}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled read: %v", err)
	}
	onlyB("A's canceled read")

	sessions := testkit.ServerSessions(t, direct)
	if len(sessions) != 1 {
		t.Fatalf("server sessions %v, want the pooler's one: the users did not share a session", sessions)
	}
	for _, st := range pgb.SessionStates(t, direct, 1) {
		if st.PID != sessions[0] || st.Role != "none" || st.UserUUID != "" {
			t.Fatalf("the shared session keeps %+v, want pid %d, role none and no user", st, sessions[0])
		}
	}
}

// PgBouncer's statement pooling cannot carry the server's transactions: a request fails (it never
// runs outside its transaction, without the user's settings), and DetectPooling says why, which
// is how serve refuses to start on it.
func TestStatementPoolingIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := testkit.NewDBURL(t)
	pgb := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{Mode: "statement"})
	x, err := db.Open(ctx, pgb.URL(t, direct), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	user := testkit.CreateUser(t, x, "sub", "s@example.com", "S") // one statement: that works
	tags, err := db.NewStore(x).Tags(ctx, user)
	if err == nil {
		t.Fatalf("a read through statement pooling answered %v", tags)
	}
	if _, err := db.DetectPooling(ctx, pgb.URL(t, direct)); !errors.Is(err, db.ErrNoTransactions) {
		t.Fatalf("DetectPooling through statement pooling: %v, want ErrNoTransactions", err)
	}
}
