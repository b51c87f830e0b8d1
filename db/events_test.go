package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// openURL is a fresh database's direct URL (for a listener) and a pool on it (through Route).
func openURL(t *testing.T) (string, *sqlx.DB) {
	t.Helper()
	url := testkit.NewDBURL(t)
	x, err := sqlx.Open("postgres", testkit.Route(t, url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return url, x
}

// listen opens a real LISTEN connection on the events channel of the database at url.
func listen(t *testing.T, url string) <-chan *pq.Notification {
	t.Helper()
	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Listen(db.EventsChannel); err != nil {
		t.Fatal(err)
	}
	return l.Notify
}

func nextNotification(t *testing.T, ch <-chan *pq.Notification) (db.Notification, string) {
	t.Helper()
	select {
	case n := <-ch:
		got, err := db.ParseNotification(n.Extra)
		if err != nil {
			t.Fatalf("%s: %v", n.Extra, err)
		}
		return got, n.Extra
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
	}
	return db.Notification{}, ""
}

// Every write method announces exactly the rows it changed, with its transaction's time, ids
// only; a write that fails or is refused announces nothing (the next notification is the
// following write's).
func TestWritesNotifyTheirIDsAtCommitOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, x := openURL(t)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	s := db.NewStore(x)
	clock := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	s.Now = func() time.Time { return clock }
	ch := listen(t, url)

	expect := func(what string, user uuid.UUID, kind db.ChangeKind, op db.ChangeOp, ids ...uuid.UUID) {
		t.Helper()
		got, raw := nextNotification(t, ch)
		want := db.Notification{User: user, At: clock, Kind: kind, Op: op, IDs: ids}
		if got.User != want.User || !got.At.Equal(want.At) || got.Kind != want.Kind || got.Op != want.Op || !slices.Equal(got.IDs, want.IDs) {
			t.Fatalf("%s: notification %s, want %+v", what, raw, want)
		}
		if strings.Contains(raw, "secret") {
			t.Fatalf("%s: row data in the payload: %s", what, raw)
		}
	}

	tag, err := s.CreateTag(ctx, a, db.NewTag{Name: "secret tag"})
	if err != nil {
		t.Fatal(err)
	}
	expect("CreateTag", a, db.KindTag, db.OpCreated, tag.ID)
	limited, err := s.CreateTag(ctx, a, db.NewTag{Name: "secret limited", MaxTags: 10}) // the path under a tag limit
	if err != nil {
		t.Fatal(err)
	}
	expect("CreateTag under a limit", a, db.KindTag, db.OpCreated, limited.ID)
	task, err := s.CreateTask(ctx, a, db.NewTask{Title: "secret title", TagIDs: []uuid.UUID{tag.ID}})
	if err != nil {
		t.Fatal(err)
	}
	expect("CreateTask", a, db.KindTask, db.OpCreated, task.ID)
	if _, err := s.UpdateTask(ctx, a, task.ID, db.TaskPatch{Title: ptr("secret 2")}); err != nil {
		t.Fatal(err)
	}
	expect("UpdateTask", a, db.KindTask, db.OpUpdated, task.ID)
	if _, err := s.UpdateTag(ctx, a, tag.ID, db.TagPatch{Name: ptr("secret 3")}); err != nil {
		t.Fatal(err)
	}
	expect("UpdateTag", a, db.KindTag, db.OpUpdated, tag.ID)

	// Refused or failed: another user's rows, a tag of another user, a name taken. (That a
	// rolled-back transaction's notification is never delivered: events_internal_test.go.)
	bTag, err := s.CreateTag(ctx, b, db.NewTag{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	expect("B's CreateTag", b, db.KindTag, db.OpCreated, bTag.ID)
	if _, err := s.CreateTask(ctx, a, db.NewTask{Title: "x", TagIDs: []uuid.UUID{bTag.ID}}); !errors.Is(err, db.ErrTagNotFound) {
		t.Fatalf("CreateTask with B's tag: %v", err)
	}
	if _, err := s.UpdateTask(ctx, b, task.ID, db.TaskPatch{Title: ptr("x")}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("B updates A's task: %v", err)
	}
	if _, err := s.UpdateTask(ctx, a, task.ID, db.TaskPatch{TagIDs: &[]uuid.UUID{bTag.ID}}); !errors.Is(err, db.ErrTagNotFound) {
		t.Fatalf("UpdateTask with B's tag: %v", err)
	}
	if _, err := s.CreateTag(ctx, a, db.NewTag{Name: "SECRET 3"}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate tag: %v", err)
	}
	if err := s.DeleteTask(ctx, b, task.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("B deletes A's task: %v", err)
	}
	if err := s.DeleteTag(ctx, b, tag.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("B deletes A's tag: %v", err)
	}

	// Deleting the tag also announces its task as updated, in the same transaction.
	if err := s.DeleteTag(ctx, a, tag.ID); err != nil {
		t.Fatal(err)
	}
	expect("DeleteTag", a, db.KindTag, db.OpDeleted, tag.ID)
	expect("DeleteTag's task", a, db.KindTask, db.OpUpdated, task.ID)
	if err := s.DeleteTask(ctx, a, task.ID); err != nil {
		t.Fatal(err)
	}
	expect("DeleteTask", a, db.KindTask, db.OpDeleted, task.ID)
	select {
	case n := <-ch:
		t.Fatalf("an extra notification: %s", n.Extra)
	case <-time.After(200 * time.Millisecond):
	}
}

// A tag on more tasks than one payload may name is announced in chunks, each under PostgreSQL's
// 8000-byte limit, together and in order.
func TestDeletedTagOnManyTasksIsChunked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, x := openURL(t)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	s := db.NewStore(x)
	tag, err := s.CreateTag(ctx, a, db.NewTag{Name: "many"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var want []uuid.UUID
	for i := range n {
		tk, err := s.CreateTask(ctx, a, db.NewTask{Title: fmt.Sprintf("t%d", i), TagIDs: []uuid.UUID{tag.ID}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tk.ID)
	}
	slices.SortFunc(want, func(p, q uuid.UUID) int { return strings.Compare(p.String(), q.String()) })
	ch := listen(t, url)
	if err := s.DeleteTag(ctx, a, tag.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := nextNotification(t, ch); got.Kind != db.KindTag || got.Op != db.OpDeleted {
		t.Fatalf("first: %+v", got)
	}
	var got []uuid.UUID
	chunks := 0
	for len(got) < n {
		note, raw := nextNotification(t, ch)
		if note.Kind != db.KindTask || note.Op != db.OpUpdated || len(note.IDs) > db.MaxIDsPerNotification {
			t.Fatalf("chunk %d: %+v", chunks, note)
		}
		if len(raw) >= 8000 {
			t.Fatalf("chunk %d is %d bytes", chunks, len(raw))
		}
		got = append(got, note.IDs...)
		chunks++
	}
	if !slices.Equal(got, want) || chunks != (n+db.MaxIDsPerNotification-1)/db.MaxIDsPerNotification {
		t.Fatalf("%d ids in %d chunks; want the %d task ids in %d", len(got), chunks, n, (n+db.MaxIDsPerNotification-1)/db.MaxIDsPerNotification)
	}
}

// The largest payload notify can build, with the longest time, stays under 8000 bytes.
func TestLargestPayloadFits(t *testing.T) {
	ids := make([]uuid.UUID, db.MaxIDsPerNotification)
	for i := range ids {
		ids[i] = uuid.New()
	}
	b, err := json.Marshal(db.Notification{User: uuid.New(), At: time.Date(2030, 12, 31, 23, 59, 59, 999999000, time.UTC), Kind: db.KindTask, Op: db.OpDeleted, IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 8000 {
		t.Fatalf("%d bytes", len(b))
	}
	t.Logf("largest payload: %d bytes", len(b))
}

// The rows a listener loads for an event are the user's only, with their tags.
func TestEventLoadsAreScopedToTheUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)
	tag, _ := s.CreateTag(ctx, a, db.NewTag{Name: "t"})
	task, err := s.CreateTask(ctx, a, db.NewTask{Title: "x", TagIDs: []uuid.UUID{tag.ID}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.TasksByID(ctx, a, []uuid.UUID{task.ID, uuid.New()})
	if err != nil || len(got) != 1 || got[task.ID].Title != "x" || len(got[task.ID].Tags) != 1 || got[task.ID].Tags[0].ID != tag.ID {
		t.Fatalf("A's task: %+v %v", got, err)
	}
	if got, err := s.TasksByID(ctx, b, []uuid.UUID{task.ID}); err != nil || len(got) != 0 {
		t.Fatalf("B loading A's task: %+v %v", got, err)
	}
	if got, err := s.TagsByID(ctx, b, []uuid.UUID{tag.ID}); err != nil || len(got) != 0 {
		t.Fatalf("B loading A's tag: %+v %v", got, err)
	}
	if got, err := s.TagsByID(ctx, a, []uuid.UUID{tag.ID}); err != nil || got[tag.ID].Name != "t" {
		t.Fatalf("A's tag: %+v %v", got, err)
	}
}
