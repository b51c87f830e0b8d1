package db_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
)

// seedTasks creates tasks with ties and NULLs in every sort key.
func seedTasks(t testing.TB, s *db.Store, user uuid.UUID) []db.Task {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	due1 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	due2 := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	prios := []*db.Priority{nil, ptr(db.PriorityLow), ptr(db.PriorityUrgent), nil, ptr(db.PriorityMedium), ptr(db.PriorityLow), ptr(db.PriorityHigh)}
	dues := []*time.Time{&due1, nil, &due2, &due1, nil, nil, &due2, &due1}
	titles := []string{"b", "a", "c", "a", "d", "b"}
	var out []db.Task
	for i := range 15 {
		// Three tasks share each creation instant.
		at := base.Add(time.Duration(i/3) * time.Minute)
		s.Now = func() time.Time { return at }
		task, err := s.CreateTask(ctx, user, db.NewTask{
			Title: titles[i%len(titles)], Priority: prios[i%len(prios)], DueAt: dues[i%len(dues)],
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, task)
	}
	// Touch a few, two at the same instant, so updatedAt differs from createdAt but still ties.
	touched := base.Add(time.Hour)
	s.Now = func() time.Time { return touched }
	for _, i := range []int{0, 7} {
		up, err := s.UpdateTask(ctx, user, out[i].ID, db.TaskPatch{})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = up
	}
	return out
}

// cmpKey compares two tasks by field ascending with NULLs as +infinity; 0 on a tie.
func cmpKey(a, b db.Task, f db.SortField) int {
	cmpNullable := func(an, bn bool, c int) int {
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		}
		return c
	}
	switch f {
	case db.SortCreatedAt:
		return a.CreatedAt.Compare(b.CreatedAt)
	case db.SortUpdatedAt:
		return a.UpdatedAt.Compare(b.UpdatedAt)
	case db.SortTitle:
		return strings.Compare(a.Title, b.Title)
	case db.SortDueAt:
		if a.DueAt == nil || b.DueAt == nil {
			return cmpNullable(a.DueAt == nil, b.DueAt == nil, 0)
		}
		return a.DueAt.Compare(*b.DueAt)
	case db.SortPriority:
		if a.Priority == nil || b.Priority == nil {
			return cmpNullable(a.Priority == nil, b.Priority == nil, 0)
		}
		return int(*a.Priority) - int(*b.Priority)
	}
	panic(f)
}

// expectedOrder sorts like the API promises: key in the direction, NULLs last either way, id ties.
func expectedOrder(tasks []db.Task, o db.TaskOrder) []uuid.UUID {
	s := slices.Clone(tasks)
	slices.SortFunc(s, func(a, b db.Task) int {
		aNull, bNull := sortNull(a, o.Field), sortNull(b, o.Field)
		if aNull != bNull {
			if aNull {
				return 1
			}
			return -1
		}
		c := cmpKey(a, b, o.Field)
		if c == 0 {
			c = bytes.Compare(a.ID[:], b.ID[:])
		}
		if o.Desc {
			c = -c
		}
		return c
	})
	ids := make([]uuid.UUID, len(s))
	for i, t := range s {
		ids[i] = t.ID
	}
	return ids
}

func sortNull(t db.Task, f db.SortField) bool {
	return (f == db.SortDueAt && t.DueAt == nil) || (f == db.SortPriority && t.Priority == nil)
}

var allOrders = func() []db.TaskOrder {
	var out []db.TaskOrder
	for _, f := range []db.SortField{db.SortCreatedAt, db.SortUpdatedAt, db.SortDueAt, db.SortPriority, db.SortTitle} {
		out = append(out, db.TaskOrder{Field: f}, db.TaskOrder{Field: f, Desc: true})
	}
	return out
}()

func TestListTasksWalksEveryOrderBothWays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)
	tasks := seedTasks(t, s, a)
	seedTasks(t, s, b) // B's rows must never appear in A's walk

	for _, o := range allOrders {
		want := expectedOrder(tasks, o)
		for _, size := range []int{1, 4, 15, 20} {
			name := string(o.Field) + map[bool]string{false: "_ASC", true: "_DESC"}[o.Desc]

			var fwd []uuid.UUID
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(tasks)+1 {
					t.Fatalf("%s first=%d: forward walk does not end", name, size)
				}
				p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: size, Cursor: after})
				if err != nil {
					t.Fatalf("%s first=%d: %v", name, size, err)
				}
				for _, task := range p.Tasks {
					fwd = append(fwd, task.ID)
				}
				if p.HasPreviousPage != (after != "") {
					t.Errorf("%s first=%d: hasPreviousPage=%v after %q", name, size, p.HasPreviousPage, after)
				}
				if !p.HasNextPage {
					break
				}
				after = p.Cursors[len(p.Cursors)-1]
			}
			if !slices.Equal(fwd, want) {
				t.Errorf("%s first=%d forward:\n got %v\nwant %v", name, size, fwd, want)
			}

			var back []uuid.UUID
			before := ""
			for pages := 0; ; pages++ {
				if pages > len(tasks)+1 {
					t.Fatalf("%s last=%d: backward walk does not end", name, size)
				}
				p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Backward: true, Limit: size, Cursor: before})
				if err != nil {
					t.Fatalf("%s last=%d: %v", name, size, err)
				}
				back = append(taskIDs(p.Tasks), back...)
				if p.HasNextPage != (before != "") {
					t.Errorf("%s last=%d: hasNextPage=%v before %q", name, size, p.HasNextPage, before)
				}
				if !p.HasPreviousPage {
					break
				}
				before = p.Cursors[0]
			}
			if !slices.Equal(back, want) {
				t.Errorf("%s last=%d backward:\n got %v\nwant %v", name, size, back, want)
			}
		}
	}
}

func TestListTasksCursorsAreBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)
	seedTasks(t, s, a)
	seedTasks(t, s, b)
	o := db.TaskOrder{Field: db.SortDueAt}
	p, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Cursors[1]
	bad := []struct {
		name string
		user uuid.UUID
		q    db.TaskQuery
	}{
		{"other user", b, db.TaskQuery{Order: o, Limit: 2, Cursor: c}},
		{"other field", a, db.TaskQuery{Order: db.TaskOrder{Field: db.SortTitle}, Limit: 2, Cursor: c}},
		{"other direction", a, db.TaskQuery{Order: db.TaskOrder{Field: db.SortDueAt, Desc: true}, Backward: true, Limit: 2, Cursor: c}},
		{"other filter", a, db.TaskQuery{Order: o, Limit: 2, Cursor: c, Filter: db.TaskFilter{Search: "a"}}},
		{"garbage", a, db.TaskQuery{Order: o, Limit: 2, Cursor: "not a cursor"}},
		{"forged", a, db.TaskQuery{Order: o, Limit: 2, Cursor: "eyJiIjoieCIsInYiOm51bGwsImkiOiIwMDAwIn0"}},
	}
	for _, tc := range bad {
		if _, err := s.ListTasks(ctx, tc.user, tc.q); !errors.Is(err, db.ErrInvalidCursor) {
			t.Errorf("%s: err = %v, want ErrInvalidCursor", tc.name, err)
		}
	}
	// The same filter in another spelling (order of priorities) keeps the cursor valid.
	f1 := db.TaskFilter{Priorities: []db.Priority{db.PriorityLow, db.PriorityHigh}}
	f2 := db.TaskFilter{Priorities: []db.Priority{db.PriorityHigh, db.PriorityLow}}
	p, err = s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: 1, Filter: f1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListTasks(ctx, a, db.TaskQuery{Order: o, Limit: 1, Filter: f2, Cursor: p.Cursors[0]}); err != nil {
		t.Errorf("equivalent filter refused the cursor: %v", err)
	}
}

func TestListTasksFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, a, b := newStore(t)
	red, _ := s.CreateTag(ctx, a, db.NewTag{Name: "red"})
	blue, _ := s.CreateTag(ctx, a, db.NewTag{Name: "blue"})
	bTag, _ := s.CreateTag(ctx, b, db.NewTag{Name: "red"})
	mk := func(title string, desc *string, prio *db.Priority, due *time.Time, done bool, tags ...uuid.UUID) {
		t.Helper()
		if _, err := s.CreateTask(ctx, a, db.NewTask{Title: title, Description: desc, Priority: prio, DueAt: due, Completed: done, TagIDs: tags}); err != nil {
			t.Fatal(err)
		}
	}
	d := func(day int) *time.Time { v := time.Date(2026, 3, day, 10, 0, 0, 0, time.UTC); return &v }
	mk("both", nil, ptr(db.PriorityLow), d(1), false, red.ID, blue.ID)
	mk("red only", ptr("100% sure"), ptr(db.PriorityHigh), d(2), true, red.ID)
	mk("Blue Only", nil, nil, nil, false, blue.ID)
	mk("none", ptr("Under_score"), ptr(db.PriorityUrgent), d(3), true)
	if _, err := s.CreateTask(ctx, b, db.NewTask{Title: "b both", TagIDs: []uuid.UUID{bTag.ID}}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		f    db.TaskFilter
		want []string
	}{
		{"all", db.TaskFilter{}, []string{"Blue Only", "both", "none", "red only"}},
		{"completed", db.TaskFilter{Completed: ptr(true)}, []string{"none", "red only"}},
		{"open", db.TaskFilter{Completed: ptr(false)}, []string{"Blue Only", "both"}},
		{"priorities", db.TaskFilter{Priorities: []db.Priority{db.PriorityLow, db.PriorityUrgent}}, []string{"both", "none"}},
		{"any tag", db.TaskFilter{TagIDs: []uuid.UUID{red.ID, blue.ID}}, []string{"Blue Only", "both", "red only"}},
		{"all tags", db.TaskFilter{TagIDs: []uuid.UUID{red.ID, blue.ID, red.ID}, AllTags: true}, []string{"both"}},
		{"foreign tag", db.TaskFilter{TagIDs: []uuid.UUID{bTag.ID}}, nil},
		{"search title case-insensitive", db.TaskFilter{Search: "ONLY"}, []string{"Blue Only", "red only"}},
		{"search description, % literal", db.TaskFilter{Search: "0%"}, []string{"red only"}},
		{"search _ literal", db.TaskFilter{Search: "r_s"}, []string{"none"}},
		{"search _ is no wildcard", db.TaskFilter{Search: "d_r"}, nil},
		{"due after (inclusive)", db.TaskFilter{DueAfter: d(2)}, []string{"none", "red only"}},
		{"due before (exclusive)", db.TaskFilter{DueBefore: d(2)}, []string{"both"}},
		{"due window, other offset", db.TaskFilter{DueAfter: ptr(d(1).Add(time.Minute).In(time.FixedZone("x", 5*3600))), DueBefore: d(3)}, []string{"red only"}},
	}
	for _, tc := range cases {
		p, err := s.ListTasks(ctx, a, db.TaskQuery{Filter: tc.f, Order: db.TaskOrder{Field: db.SortTitle}, Limit: 50, WithTotal: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, task := range p.Tasks {
			got = append(got, task.Title)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || p.TotalCount != len(tc.want) {
			t.Errorf("%s: got %q (total %d), want %q", tc.name, got, p.TotalCount, tc.want)
		}
	}
}

func taskIDs(ts []db.Task) []uuid.UUID {
	out := make([]uuid.UUID, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}
