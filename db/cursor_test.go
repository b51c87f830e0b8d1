package db_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/taskgraph/taskgraph/db"
)

// forge returns cursor with its sort value replaced by v (nil: a NULL key), keeping its binding:
// what a client that reads its own cursors can send.
func forge(t testing.TB, cursor string, v any) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["v"] = v
	raw, _ = json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestListTasksRefusesForgedKeys: a cursor whose binding is right but whose sort key PostgreSQL
// could not read (year 0000 or 10000, a NUL in a title, a priority out of range) is
// ErrInvalidCursor, not a failing statement.
func TestListTasksRefusesForgedKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, _ := newStore(t)
	seedTasks(t, s, a)
	cursorOf := func(f db.SortField) string {
		p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: db.TaskOrder{Field: f}, Limit: 1})
		if err != nil || len(p.Cursors) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		return p.Cursors[0]
	}
	for _, tc := range []struct {
		field db.SortField
		value any
		ok    bool
	}{
		{db.SortDueAt, "2026-02-01T00:00:00Z", true},
		{db.SortDueAt, nil, true},
		{db.SortDueAt, "0001-01-01T00:00:00Z", true},
		{db.SortDueAt, "9999-12-31T23:59:59.999999Z", true},
		{db.SortDueAt, "0000-01-01T00:00:00Z", false},
		{db.SortDueAt, "-0001-12-31T00:00:00Z", false},
		{db.SortDueAt, "10000-01-01T00:00:00Z", false},
		{db.SortDueAt, "2026-02-01", false},
		{db.SortDueAt, 5, false},
		{db.SortCreatedAt, nil, false},
		{db.SortCreatedAt, "0000-06-01T00:00:00Z", false},
		{db.SortUpdatedAt, "2026-01-01T00:00:00+15:59", true},
		{db.SortTitle, "a\x00b", false},
		{db.SortTitle, "ordinary", true},
		{db.SortPriority, "5", false},
		{db.SortPriority, "2", true},
	} {
		c := forge(t, cursorOf(tc.field), tc.value)
		_, err := s.ListTasks(ctx, a, db.TaskQuery{Order: db.TaskOrder{Field: tc.field}, Limit: 2, Cursor: c})
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s %v: %v", tc.field, tc.value, err)
		case !tc.ok && !errors.Is(err, db.ErrInvalidCursor):
			t.Errorf("%s %v: err = %v, want ErrInvalidCursor", tc.field, tc.value, err)
		}
	}
}
