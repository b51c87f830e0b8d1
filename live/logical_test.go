package live_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// newLogicalEnv is a hub on a fresh database of a private wal_level=logical cluster.
func newLogicalEnv(t *testing.T, cfg live.Config, listenURL func(dbURL string) string) (*env, *testkit.Postgres) {
	t.Helper()
	pg := testkit.StartLogicalPostgres(t)
	e := newEnvOn(t, pg.NewDBURL(t), cfg, listenURL)
	if f := e.hub.Feed(); f.Kind != live.FeedLogical || !f.Up {
		t.Fatalf("feed on a wal_level=logical cluster: %+v, want logical and up", f)
	}
	return e, pg
}

// superuser runs q on the env's database as the cluster's superuser.
func superuser(t *testing.T, pg *testkit.Postgres, dbURL, q string, args ...any) *sql.Rows {
	t.Helper()
	u := replaceUser(t, dbURL, "postgres")
	x, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	rows, err := x.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func replaceUser(t *testing.T, dbURL, user string) string {
	t.Helper()
	u, err := urlParse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

func count(t *testing.T, rows *sql.Rows) int {
	t.Helper()
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n
}

// slots is the number of replication slots of the cluster, and how many are temporary.
func slots(t *testing.T, pg *testkit.Postgres, dbURL string) (all, temporary int) {
	t.Helper()
	rows := superuser(t, pg, dbURL, `SELECT temporary FROM pg_replication_slots`)
	defer rows.Close()
	for rows.Next() {
		var tmp bool
		if err := rows.Scan(&tmp); err != nil {
			t.Fatal(err)
		}
		all++
		if tmp {
			temporary++
		}
	}
	return all, temporary
}

// With wal_level=logical the hub reads the WAL: writers send no NOTIFY at all, and subscribers
// get the same events as through the fallback (a task's tag changes as its update, a deleted
// tag's tasks as updated), each with a cursor, in commit order. The replica's slot is temporary:
// when the hub closes, it is gone, so a dead replica retains no WAL.
func TestLogicalFeedWritersSendNothing(t *testing.T) {
	e, pg := newLogicalEnv(t, live.Config{}, nil)
	if all, tmp := slots(t, pg, e.url); all != 1 || tmp != 1 {
		t.Fatalf("slots: %d, %d temporary; want one temporary slot", all, tmp)
	}
	a, actx := e.user("a")
	_, bctx := e.user("b")
	tasks := e.subscribe(actx, live.TaskEvents)
	tags := e.subscribe(actx, live.TagEvents)
	other := e.subscribe(bctx, live.TaskEvents)

	// A session listening on the fallback's channel hears nothing.
	heard := make(chan string, 16)
	l := pq.NewListener(e.url, time.Second, time.Second, nil)
	if err := l.Listen(db.EventsChannel); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for n := range l.Notify {
			if n != nil {
				heard <- n.Extra
			}
		}
	}()

	ctx := context.Background()
	// Each write waits for its event: an event whose row is gone by the time the worker loads it
	// is skipped (its deletion's event follows), and this test wants every one.
	tag, err := e.store.CreateTag(ctx, a, db.NewTag{Name: "red"})
	if err != nil {
		t.Fatal(err)
	}
	var task db.Task
	var last string
	check := func(i int, op db.ChangeOp, title string, tags int) {
		t.Helper()
		ev := next(t, tasks)
		if ev.Op != op || ev.ID != task.ID || ev.Cursor == "" || ev.Cursor == last {
			t.Fatalf("task event %d: %+v, want %s of %s with a new cursor", i, ev, op, task.ID)
		}
		last = ev.Cursor
		if op != db.OpDeleted && (ev.Task == nil || ev.Task.Title != title || len(ev.Task.Tags) != tags) {
			t.Fatalf("task event %d: %+v, want title %q and %d tags", i, ev.Task, title, tags)
		}
	}
	if task, err = e.store.CreateTask(ctx, a, db.NewTask{Title: "one", TagIDs: []uuid.UUID{tag.ID}}); err != nil {
		t.Fatal(err)
	}
	check(0, db.OpCreated, "one", 1)
	title := "two"
	if _, err := e.store.UpdateTask(ctx, a, task.ID, db.TaskPatch{Title: &title}); err != nil {
		t.Fatal(err)
	}
	check(1, db.OpUpdated, "two", 1)
	if err := e.store.DeleteTag(ctx, a, tag.ID); err != nil {
		t.Fatal(err)
	}
	check(2, db.OpUpdated, "two", 0)
	if err := e.store.DeleteTask(ctx, a, task.ID); err != nil {
		t.Fatal(err)
	}
	check(3, db.OpDeleted, "", 0)
	for i, op := range []db.ChangeOp{db.OpCreated, db.OpDeleted} {
		if ev := next(t, tags); ev.Op != op || ev.ID != tag.ID {
			t.Fatalf("tag event %d: %+v, want %s", i, ev, op)
		}
	}
	if err := e.hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-other.events:
		t.Fatalf("B got A's event %+v", ev)
	case p := <-heard:
		t.Fatalf("a writer sent NOTIFY %s", p)
	case <-time.After(200 * time.Millisecond):
	}

	e.hub.Close()
	testkit.WaitFor(t, "the temporary slot to go with its connection", 20*time.Second, func() bool { all, _ := slots(t, pg, e.url); return all == 0 })
}

// A cursor resumes exactly after its event; one beyond the window ends with ErrEventsLost; text
// that is no cursor is refused.
func TestResumeWindow(t *testing.T) {
	e, _ := newLogicalEnv(t, live.Config{ResumeChanges: 5}, nil)
	a, actx := e.user("a")
	ctx := context.Background()
	s := e.subscribe(actx, live.TaskEvents)
	var ids []uuid.UUID
	create := func(n int) {
		for range n {
			task, err := e.store.CreateTask(ctx, a, db.NewTask{Title: "x"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, task.ID)
		}
	}
	create(3)
	first := next(t, s)
	s.Close()
	create(1) // 4 changes after first: the window (5) still holds them
	_, ch, err := live.SubscribeAfter(actx, e.hub, live.TaskEvents, first.Cursor, identity)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		select {
		case ev := <-ch:
			if ev.ID != ids[i] {
				t.Fatalf("resumed event %d: %s, want %s", i, ev.ID, ids[i])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("resumed event %d missing", i)
		}
	}
	create(10) // first's successor leaves the window
	if err := e.hub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	old, oldCh, err := live.SubscribeAfter(actx, e.hub, live.TaskEvents, first.Cursor, identity)
	if err != nil {
		t.Fatal(err)
	}
	ended(t, sub{old, oldCh}, live.ErrEventsLost)
	if _, _, err := live.SubscribeAfter(actx, e.hub, live.TaskEvents, "not-a-cursor", identity); !errors.Is(err, live.ErrBadCursor) {
		t.Fatalf("a bad cursor: %v", err)
	}
}

// On the logical feed a tag's event is built from the row the WAL carries: each event shows what
// its own transaction wrote, even when the row has changed or gone since (a read would find the
// latest state, or nothing). A task's event still reads its row (its tags' names are not in the
// transaction).
func TestLogicalFeedTagEventsNeedNoRead(t *testing.T) {
	e, _ := newLogicalEnv(t, live.Config{Workers: 1}, nil)
	a, actx := e.user("a")
	tags := e.subscribe(actx, live.TagEvents)
	tasks := e.subscribe(actx, live.TaskEvents)
	ctx := context.Background()

	// The worker waits for the hub's pool (one session, held here) while the tag is created,
	// recolored, renamed and deleted: by the time it could read, there is nothing left to read.
	release := e.holdHubPool(t)
	red, blue := "#ff0000", "blue"
	created, err := e.store.CreateTag(ctx, a, db.NewTag{Name: "red", Color: &red})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := e.store.UpdateTag(ctx, a, created.ID, db.TagPatch{Name: &blue, Color: db.Field[string]{Set: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteTag(ctx, a, created.ID); err != nil {
		t.Fatal(err)
	}
	release()
	for _, want := range []struct {
		op  db.ChangeOp
		tag *db.Tag
	}{{db.OpCreated, &created}, {db.OpUpdated, &updated}, {db.OpDeleted, nil}} {
		ev := next(t, tags)
		got := ev.Tag
		switch {
		case ev.Op != want.op || ev.ID != created.ID:
			t.Fatalf("event %s %s, want %s", ev.Op, ev.ID, want.op)
		case want.tag == nil && got != nil, want.tag != nil && (got == nil || got.Name != want.tag.Name ||
			(got.Color == nil) != (want.tag.Color == nil) || got.Color != nil && *got.Color != *want.tag.Color ||
			!got.CreatedAt.Equal(want.tag.CreatedAt)):
			t.Fatalf("%s: %+v, want %+v", ev.Op, got, want.tag)
		}
	}

	tag, err := e.store.CreateTag(ctx, a, db.NewTag{Name: "green"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := e.store.CreateTask(ctx, a, db.NewTask{Title: "t", TagIDs: []uuid.UUID{tag.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, tasks); ev.Task == nil || ev.Task.ID != task.ID || len(ev.Task.Tags) != 1 || ev.Task.Tags[0].Name != "green" {
		t.Fatalf("task event %+v", ev.Task)
	}
}
