package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

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
		{db.SortDueAt, "9999-12-31T20:59:59,000000Z", true}, // Go reads the comma, PostgreSQL would not
		{db.SortPriority, "+2", true},
		{db.SortDueAt, 5, false},
		{db.SortCreatedAt, nil, false},
		{db.SortCreatedAt, "0000-06-01T00:00:00Z", false},
		{db.SortUpdatedAt, "2026-01-01T00:00:00+15:59", true},
		{db.SortTitle, "a\x00b", false},
		{db.SortTitle, "ordinary", true},
		{db.SortPriority, "5", false},
		{db.SortPriority, "2", true},
	} {
		c := testkit.ForgeCursor(t, cursorOf(tc.field), tc.value)
		_, err := s.ListTasks(ctx, a, db.TaskQuery{Order: db.TaskOrder{Field: tc.field}, Limit: 2, Cursor: c})
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s %v: %v", tc.field, tc.value, err)
		case !tc.ok && !errors.Is(err, db.ErrInvalidCursor):
			t.Errorf("%s %v: err = %v, want ErrInvalidCursor", tc.field, tc.value, err)
		}
	}
}

var sortFields = []db.SortField{db.SortCreatedAt, db.SortUpdatedAt, db.SortDueAt, db.SortPriority, db.SortTitle}

// FuzzCursor pages through a real database with arbitrary cursors: raw strings, and real cursors
// whose sort key the fuzzer replaces (they pass the binding check, so the key reaches SQL). Every
// answer is a page of the user's own tasks or ErrInvalidCursor, never a failing statement.
func FuzzCursor(f *testing.F) {
	ctx := context.Background()
	s, _, a, b := newStore(f)
	own := map[string]bool{}
	for _, task := range seedTasks(f, s, a) {
		own[task.ID.String()] = true
	}
	seedTasks(f, s, b)
	real := map[db.TaskOrder]string{}
	for _, field := range sortFields {
		for _, desc := range []bool{false, true} {
			o := db.TaskOrder{Field: field, Desc: desc}
			p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: 4})
			if err != nil || len(p.Cursors) < 4 {
				f.Fatalf("%v: %v", o, err)
			}
			real[o] = p.Cursors[3]
			f.Add(p.Cursors[3], "", uint8(len(real)-1), false, false)
		}
	}
	for i, v := range []string{"2026-02-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "10000-01-01T00:00:00Z",
		"2026-01-01T00:00:00+15:59", "2", "5", "-1", "99999999999999999999", "a", "a\x00", "\xff", "", "NULL"} {
		f.Add("", v, uint8(i), i%2 == 0, true)
	}
	for _, raw := range []string{"", "x", "e30", "eyJiIjoieCJ9", "!!!!", "eyJiIjoieCIsInYiOm51bGwsImkiOiIwMDAwIn0"} {
		f.Add(raw, "", uint8(0), false, false)
	}
	f.Fuzz(func(t *testing.T, raw, value string, order uint8, backward, forged bool) {
		o := db.TaskOrder{Field: sortFields[int(order/2)%len(sortFields)], Desc: order%2 == 1}
		c := raw
		if forged {
			var v any = value
			if value == "NULL" {
				v = nil
			}
			c = testkit.ForgeCursor(t, real[o], v)
		}
		p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: 3, Cursor: c, Backward: backward})
		if err != nil {
			if !errors.Is(err, db.ErrInvalidCursor) {
				t.Fatalf("cursor %q (%v, backward %v): %v", c, o, backward, err)
			}
			return
		}
		if len(p.Tasks) > 3 {
			t.Fatalf("%d tasks on a page of 3", len(p.Tasks))
		}
		for _, task := range p.Tasks {
			if !own[task.ID.String()] {
				t.Fatalf("cursor %q gave another user's task %v", c, task.ID)
			}
		}
	})
}
