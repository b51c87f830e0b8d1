package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// notify is transactional: what a rolled-back transaction queued is never delivered, what a
// committed one queued is, after the commit.
func TestNotifyIsDeliveredOnlyAtCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testkit.NewDBURL(t)
	x, err := sqlx.Open("postgres", testkit.Route(t, url)) // the listener keeps the direct URL
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Listen(EventsChannel); err != nil {
		t.Fatal(err)
	}
	store := NewStore(x)
	user := testkit.CreateUser(t, x, "sub", "n@example.com", "N")
	errRollback := errors.New("roll back")
	send := func(id uuid.UUID, commit bool) {
		err := store.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
			if err := notify(tx, user, now, change{KindTask, OpCreated, []uuid.UUID{id}}); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-l.Notify:
				t.Fatalf("delivered before the commit: %s", n.Extra)
			case <-time.After(100 * time.Millisecond):
			}
			if !commit {
				return errRollback
			}
			return nil
		})
		if commit != (err == nil) || (!commit && !errors.Is(err, errRollback)) {
			t.Fatalf("commit %v: %v", commit, err)
		}
	}
	rolledBack, committed := uuid.New(), uuid.New()
	send(rolledBack, false)
	send(committed, true)
	select {
	case n := <-l.Notify:
		got, err := ParseNotification(n.Extra)
		if err != nil || len(got.IDs) != 1 || got.IDs[0] != committed {
			t.Fatalf("first notification %s (%v), want the committed one only", n.Extra, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the committed notification never came")
	}
}
