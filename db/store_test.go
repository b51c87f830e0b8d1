package db_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func ptr[T any](v T) *T { return &v }

// newStore returns a store on a fresh database with two users.
func newStore(t testing.TB) (*db.Store, *sqlx.DB, uuid.UUID, uuid.UUID) {
	t.Helper()
	x := testkit.NewDB(t)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	return db.NewStore(x), x, a, b
}

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, _ := newStore(t)

	got, found, err := s.UserUUIDBySub(ctx, "sub-a")
	if err != nil || !found || got != a {
		t.Fatalf("UserUUIDBySub(sub-a) = %v, %v, %v; want %v, true, nil", got, found, err, a)
	}
	if _, found, err := s.UserUUIDBySub(ctx, "nobody"); err != nil || found {
		t.Fatalf("UserUUIDBySub(nobody) found=%v err=%v; want false, nil", found, err)
	}

	dev, err := s.EnsureUser(ctx, "dev", "dev@example.com", "Dev")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EnsureUser(ctx, "dev", "dev2@example.com", "Dev Two")
	if err != nil || again != dev {
		t.Fatalf("EnsureUser again = %v, %v; want the same uuid %v", again, err, dev)
	}
	u, err := s.UserByUUID(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "dev" || u.Email != "dev2@example.com" || u.Name != "Dev Two" || u.UUID != dev {
		t.Fatalf("UserByUUID = %+v", u)
	}
	if _, err := s.UserByUUID(ctx, uuid.New()); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("UserByUUID(random) err = %v, want ErrNotFound", err)
	}
}

func TestTagsCRUDAndIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)

	red, err := s.CreateTag(ctx, a, db.NewTag{Name: "Work", Color: ptr("#ff0000")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTag(ctx, a, db.NewTag{Name: "WORK"}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate name (other case) err = %v, want ErrConflict", err)
	}
	// The same name for another user is fine.
	if _, err := s.CreateTag(ctx, b, db.NewTag{Name: "work"}); err != nil {
		t.Fatalf("B's own tag: %v", err)
	}
	home, err := s.CreateTag(ctx, a, db.NewTag{Name: "home"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTag(ctx, a, home.ID, db.TagPatch{Name: ptr("work")}); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("rename to a taken name err = %v, want ErrConflict", err)
	}
	up, err := s.UpdateTag(ctx, a, red.ID, db.TagPatch{Color: db.Field[string]{Set: true}})
	if err != nil || up.Color != nil || up.Name != "Work" {
		t.Fatalf("clear color = %+v, %v", up, err)
	}
	up, err = s.UpdateTag(ctx, a, red.ID, db.TagPatch{Name: ptr("Job")})
	if err != nil || up.Name != "Job" || up.Color != nil {
		t.Fatalf("rename = %+v, %v", up, err)
	}

	// B cannot see, change or delete A's tag: the same answers as for a random id.
	for _, id := range []uuid.UUID{red.ID, uuid.New()} {
		if _, err := s.Tag(ctx, b, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B Tag(%v) err = %v", id, err)
		}
		if _, err := s.UpdateTag(ctx, b, id, db.TagPatch{Name: ptr("x")}); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B UpdateTag(%v) err = %v", id, err)
		}
		if err := s.DeleteTag(ctx, b, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B DeleteTag(%v) err = %v", id, err)
		}
	}
	tags, err := s.Tags(ctx, a)
	if err != nil || len(tags) != 2 || tags[0].Name != "home" || tags[1].Name != "Job" {
		t.Fatalf("A's tags = %+v, %v", tags, err)
	}
	if err := s.DeleteTag(ctx, a, home.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tag(ctx, a, home.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("deleted tag err = %v", err)
	}
}

func TestTasksCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	s.Now = func() time.Time { return now }

	t1, err := s.CreateTag(ctx, a, db.NewTag{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := s.CreateTag(ctx, a, db.NewTag{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	bTag, err := s.CreateTag(ctx, b, db.NewTag{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}

	// A foreign or unknown tag: nothing is written.
	for _, bad := range []uuid.UUID{bTag.ID, uuid.New()} {
		_, err := s.CreateTask(ctx, a, db.NewTask{Title: "x", TagIDs: []uuid.UUID{t1.ID, bad}})
		if !errors.Is(err, db.ErrTagNotFound) || !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("CreateTask with tag %v err = %v, want ErrTagNotFound", bad, err)
		}
	}
	if p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: db.TaskOrder{Field: db.SortCreatedAt}, Limit: 10, WithTotal: true}); err != nil || p.TotalCount != 0 {
		t.Fatalf("after failed creates: total %d, %v; want 0", p.TotalCount, err)
	}

	due := time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)
	task, err := s.CreateTask(ctx, a, db.NewTask{Title: "Write", Description: ptr("d"), Priority: ptr(db.PriorityHigh),
		DueAt: &due, Completed: true, TagIDs: []uuid.UUID{t1.ID, t2.ID, t1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	wantNow := now.Truncate(time.Microsecond)
	if !task.CreatedAt.Equal(wantNow) || !task.UpdatedAt.Equal(wantNow) || task.CompletedAt == nil || !task.CompletedAt.Equal(wantNow) {
		t.Fatalf("timestamps = %+v, want all %v", task, wantNow)
	}
	if task.CreatedAt.Location() != time.UTC || !task.DueAt.Equal(due) {
		t.Fatalf("times not UTC or due wrong: %+v", task)
	}
	if len(task.Tags) != 2 || task.Tags[0].ID != t1.ID || task.Tags[1].ID != t2.ID || task.Tags[0].CreatedAt.Location() != time.UTC {
		t.Fatalf("created with tags %+v, want one and two", task.Tags)
	}
	if read, err := s.Task(ctx, a, task.ID); err != nil || len(read.Tags) != 2 || read.Tags[0] != task.Tags[0] || read.Tags[1] != task.Tags[1] {
		t.Fatalf("read back with tags %+v, %v; want %+v", read.Tags, err, task.Tags)
	}

	// Patch: omitted stays, explicit null clears, tags replaced, completed false clears.
	later := now.Add(time.Hour)
	s.Now = func() time.Time { return later }
	up, err := s.UpdateTask(ctx, a, task.ID, db.TaskPatch{
		Description: db.Field[string]{Set: true},
		Completed:   ptr(false),
		TagIDs:      &[]uuid.UUID{t2.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Title != "Write" || up.Description != nil || up.Priority == nil || *up.Priority != db.PriorityHigh ||
		up.DueAt == nil || up.CompletedAt != nil || !up.UpdatedAt.Equal(later.Truncate(time.Microsecond)) || !up.CreatedAt.Equal(wantNow) {
		t.Fatalf("patched = %+v", up)
	}
	if len(up.Tags) != 1 || up.Tags[0].ID != t2.ID {
		t.Fatalf("tags after replace = %+v", up.Tags)
	}
	// Replacing with a foreign tag fails and leaves the task as it was.
	if _, err := s.UpdateTask(ctx, a, task.ID, db.TaskPatch{Title: ptr("changed"), TagIDs: &[]uuid.UUID{bTag.ID}}); !errors.Is(err, db.ErrTagNotFound) {
		t.Fatalf("update with B's tag err = %v", err)
	}
	same, err := s.Task(ctx, a, task.ID)
	if err != nil || same.Title != "Write" {
		t.Fatalf("task after failed update = %+v, %v", same, err)
	}

	// B: A's task is as absent as a random one.
	for _, id := range []uuid.UUID{task.ID, uuid.New()} {
		if _, err := s.Task(ctx, b, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B Task err = %v", err)
		}
		if _, err := s.UpdateTask(ctx, b, id, db.TaskPatch{Title: ptr("x")}); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B UpdateTask err = %v", err)
		}
		if err := s.DeleteTask(ctx, b, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("B DeleteTask err = %v", err)
		}
	}
	if p, err := s.ListTasks(ctx, b, db.TaskQuery{Order: db.TaskOrder{Field: db.SortCreatedAt}, Limit: 10, WithTags: true}); err != nil || len(p.Tasks) != 0 {
		t.Errorf("B lists %+v, %v", p.Tasks, err)
	}

	if err := s.DeleteTask(ctx, a, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Task(ctx, a, task.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("deleted task err = %v", err)
	}
}

// The policies alone confine a query that forgets WHERE user_uuid, for the app role, for the owner
// and for a superuser once it switches role; with no user set they yield nothing, not an error.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testkit.NewDBURL(t)
	x, err := sqlx.Open("postgres", testkit.Route(t, dbURL))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	s := db.NewStore(x)
	if _, err := s.CreateTask(ctx, a, db.NewTask{Title: "a's"}); err != nil {
		t.Fatal(err)
	}
	bTag, err := s.CreateTag(ctx, b, db.NewTag{Name: "b's"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTask(ctx, b, db.NewTask{Title: "b's", TagIDs: []uuid.UUID{bTag.ID}}); err != nil {
		t.Fatal(err)
	}

	// The same connection setup as the store, then queries without any user condition.
	titles := func(x *sqlx.DB, user string) []string {
		t.Helper()
		tx := testkit.BeginAs(t, x, db.AppRole, user)
		defer tx.Rollback()
		var out []string
		if err := tx.SelectContext(ctx, &out, `SELECT title FROM tasks ORDER BY title`); err != nil {
			t.Fatalf("select as %q: %v", user, err)
		}
		var tags, links int
		if err := tx.QueryRowxContext(ctx, `SELECT (SELECT count(*) FROM tags), (SELECT count(*) FROM task_tags)`).Scan(&tags, &links); err != nil {
			t.Fatal(err)
		}
		if user != b.String() && (tags != 0 || links != 0) {
			t.Errorf("as %q: %d tags and %d task_tags visible, want 0", user, tags, links)
		}
		// Writing a row for another user is refused by WITH CHECK.
		if user == a.String() {
			_, err := tx.ExecContext(ctx, `INSERT INTO tasks (user_uuid, title, created_at, updated_at) VALUES ($1, 'sneaky', now(), now())`, b)
			if err == nil {
				t.Errorf("as A: inserting a task for B succeeded")
			}
		}
		return out
	}
	check := func(who string, x *sqlx.DB) {
		t.Helper()
		if got := titles(x, a.String()); len(got) != 1 || got[0] != "a's" {
			t.Errorf("%s as A sees %q, want [a's]", who, got)
		}
		if got := titles(x, b.String()); len(got) != 1 || got[0] != "b's" {
			t.Errorf("%s as B sees %q, want [b's]", who, got)
		}
		if got := titles(x, ""); len(got) != 0 {
			t.Errorf("%s with no user sees %q, want nothing", who, got)
		}
	}
	check("table owner", x)

	// A superuser connection to the same database.
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = testkit.DefaultTestDatabaseURL
	}
	bu, _ := url.Parse(base)
	su, _ := url.Parse(dbURL)
	su.User = bu.User
	sx, err := sqlx.Open("postgres", su.String())
	if err != nil {
		t.Fatal(err)
	}
	defer sx.Close()
	var super bool
	if err := sx.QueryRowxContext(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Logf("TEST_DATABASE_URL's user is no superuser; the superuser case is the owner case")
	}
	check("superuser", sx)

	// The composite foreign keys refuse B's tag on A's task even with RLS out of the way.
	if super {
		var aTask uuid.UUID
		if err := sx.QueryRowxContext(ctx, `SELECT id FROM tasks WHERE user_uuid = $1`, a).Scan(&aTask); err != nil {
			t.Fatal(err)
		}
		for _, owner := range []uuid.UUID{a, b} {
			_, err := sx.ExecContext(ctx, `INSERT INTO task_tags (user_uuid, task_id, tag_id) VALUES ($1, $2, $3)`, owner, aTask, bTag.ID)
			if err == nil {
				t.Errorf("task_tags row (%v, A's task, B's tag) accepted", owner)
			}
		}
	}
}

// Racing creations of one tag name: the unique index lets exactly one win; the rest are conflicts.
func TestConcurrentTagCreationConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, _ := newStore(t)
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		go func() {
			name := "Same"
			if i%2 == 1 {
				name = "same"
			}
			_, err := s.CreateTag(ctx, a, db.NewTag{Name: name})
			errs <- err
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, db.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creations succeeded, want exactly 1", won)
	}
}

// task_search (the trigram index's reader, migrations/00004_search.sql) runs as a role that RLS
// does not restrict; it must keep to the transaction's user by itself, and the app role must not
// hold that role's privileges.
func TestTaskSearchKeepsToTheTransactionUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, x, a, b := newStore(t)
	aTask, err := s.CreateTask(ctx, a, db.NewTask{Title: "a needle"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTask(ctx, b, db.NewTask{Title: "b needle"}); err != nil {
		t.Fatal(err)
	}
	search := func(user string) (ids []uuid.UUID) {
		t.Helper()
		asApp(t, x, user, func(tx *sqlx.Tx) {
			if err := tx.SelectContext(ctx, &ids, `SELECT task_search('%needle%')`); err != nil {
				t.Fatal(err)
			}
			var member bool
			if err := tx.QueryRowxContext(ctx, `SELECT pg_has_role('taskgraph_app', 'taskgraph_search', 'USAGE')`).Scan(&member); err != nil || member {
				t.Errorf("taskgraph_app has taskgraph_search's privileges (%v)", err)
			}
		})
		return ids
	}
	if got := search(a.String()); len(got) != 1 || got[0] != aTask.ID {
		t.Errorf("as A: %v, want only %v", got, aTask.ID)
	}
	if got := search(""); len(got) != 0 {
		t.Errorf("with no user: %v, want nothing", got)
	}
}

// A task's tags come back exactly as the tags were stored, whatever their names hold.
func TestTaskTagsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, _ := newStore(t)
	s.Now = func() time.Time { return time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC) }
	var want []db.Tag
	for _, in := range []db.NewTag{
		{Name: `a "quoted", {braced} \ back, NULL`},
		{Name: "é ünïcødé 😀", Color: ptr("#0a0b0c")},
		{Name: "NULL"},
	} {
		tag, err := s.CreateTag(ctx, a, in)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tag)
	}
	slices.SortFunc(want, func(x, y db.Tag) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
	created, err := s.CreateTask(ctx, a, db.NewTask{Title: "t", TagIDs: []uuid.UUID{want[2].ID, want[0].ID, want[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	read, err := s.Task(ctx, a, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ListTasks(ctx, a, db.TaskQuery{Order: db.TaskOrder{Field: db.SortCreatedAt}, Limit: 1, WithTags: true})
	if err != nil || len(page.Tasks) != 1 {
		t.Fatalf("page %+v, %v", page.Tasks, err)
	}
	same := func(x, y db.Tag) bool {
		return x.ID == y.ID && x.Name == y.Name && x.CreatedAt.Equal(y.CreatedAt) && x.CreatedAt.Location() == time.UTC &&
			(x.Color == nil) == (y.Color == nil) && (x.Color == nil || *x.Color == *y.Color)
	}
	for name, got := range map[string][]db.Tag{"create": created.Tags, "task": read.Tags, "page": page.Tasks[0].Tags} {
		if len(got) != len(want) {
			t.Fatalf("%s: %d tags, want %d", name, len(got), len(want))
		}
		for i := range want {
			if !same(got[i], want[i]) {
				t.Errorf("%s: tag %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
}
