package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var rank = map[string]int{"LOW": 1, "MEDIUM": 2, "HIGH": 3, "URGENT": 4}

// key returns a task's sort key for field as a comparable string (nil for NULL).
func key(t taskJSON, field string) *string {
	ts := func(s string) string {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return v.UTC().Format("2006-01-02T15:04:05.000000")
	}
	var s string
	switch field {
	case "CREATED_AT":
		s = ts(t.CreatedAt)
	case "UPDATED_AT":
		s = ts(t.UpdatedAt)
	case "TITLE":
		s = t.Title
	case "DUE_AT":
		if t.DueAt == nil {
			return nil
		}
		s = ts(*t.DueAt)
	case "PRIORITY":
		if t.Priority == nil {
			return nil
		}
		s = fmt.Sprint(rank[*t.Priority])
	}
	return &s
}

// sorted is the order the contract promises: key in the direction, NULLs last both ways, id ties.
func sorted(tasks []taskJSON, field string, desc bool) []string {
	s := slices.Clone(tasks)
	slices.SortFunc(s, func(a, b taskJSON) int {
		ka, kb := key(a, field), key(b, field)
		if (ka == nil) != (kb == nil) {
			if ka == nil {
				return 1
			}
			return -1
		}
		c := 0
		if ka != nil {
			c = strings.Compare(*ka, *kb)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if desc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(s))
	for i, t := range s {
		ids[i] = t.ID
	}
	return ids
}

type pageJSON struct {
	Edges []struct {
		Cursor string
		Node   struct{ ID string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func TestPaginationWalksEveryOrderBothWays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := &e.a
	base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	prios := []any{nil, "LOW", "URGENT", nil, "MEDIUM", "LOW", "HIGH"}
	dues := []any{"2026-02-01T00:00:00+01:00", nil, "2026-02-02T00:00:00Z", "2026-01-31T23:00:00Z", nil}
	titles := []string{"b", "a", "c", "a", "d"}
	var tasks []taskJSON
	for i := range 14 {
		at := base.Add(time.Duration(i/3) * time.Second) // three tasks per instant: ties
		e.store.Now = func() time.Time { return at }
		tasks = append(tasks, e.createTask(a, map[string]any{
			"title": titles[i%len(titles)], "priority": prios[i%len(prios)], "dueAt": dues[i%len(dues)],
		}))
	}
	e.createTask(&e.b, map[string]any{"title": "a"}) // another user's row must never show up
	touched := base.Add(time.Hour)
	e.store.Now = func() time.Time { return touched }
	for _, i := range []int{2, 9} {
		var up taskJSON
		e.ok(a, `mutation($id: ID!) { updateTask(id: $id, input: {}) { `+taskFields+` } }`,
			map[string]any{"id": tasks[i].ID}, "updateTask", &up)
		tasks[i] = up
	}

	const q = `query($first: Int, $after: String, $last: Int, $before: String, $o: TaskOrder) {
		tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $o) {
			edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	for _, field := range []string{"CREATED_AT", "UPDATED_AT", "DUE_AT", "PRIORITY", "TITLE"} {
		for _, dir := range []string{"ASC", "DESC"} {
			want := sorted(tasks, field, dir == "DESC")
			order := map[string]any{"field": field, "direction": dir}
			name := field + " " + dir

			var fwd []string
			vars := map[string]any{"first": 4, "o": order}
			for range 10 {
				var p pageJSON
				e.ok(a, q, vars, "tasks", &p)
				for _, edge := range p.Edges {
					fwd = append(fwd, edge.Node.ID)
				}
				if len(p.Edges) > 0 && (*p.PageInfo.StartCursor != p.Edges[0].Cursor || *p.PageInfo.EndCursor != p.Edges[len(p.Edges)-1].Cursor) {
					t.Errorf("%s: start/end cursors do not match the edges", name)
				}
				if !p.PageInfo.HasNextPage {
					break
				}
				vars = map[string]any{"first": 4, "after": *p.PageInfo.EndCursor, "o": order}
			}
			if !slices.Equal(fwd, want) {
				t.Errorf("%s forward:\n got %v\nwant %v", name, fwd, want)
			}

			var back []string
			vars = map[string]any{"last": 4, "o": order}
			for range 10 {
				var p pageJSON
				e.ok(a, q, vars, "tasks", &p)
				var ids []string
				for _, edge := range p.Edges {
					ids = append(ids, edge.Node.ID)
				}
				back = append(ids, back...)
				if !p.PageInfo.HasPreviousPage {
					break
				}
				vars = map[string]any{"last": 4, "before": *p.PageInfo.StartCursor, "o": order}
			}
			if !slices.Equal(back, want) {
				t.Errorf("%s backward:\n got %v\nwant %v", name, back, want)
			}
		}
	}

	// The default is createdAt DESC, 20 per page; a cursor from another ordering is refused.
	var p pageJSON
	e.ok(a, q, nil, "tasks", &p)
	if len(p.Edges) != 14 || p.Edges[0].Node.ID != sorted(tasks, "CREATED_AT", true)[0] || p.PageInfo.HasNextPage {
		t.Fatalf("default page: %d edges", len(p.Edges))
	}
	r := e.do(a, q, map[string]any{"first": 2, "after": p.Edges[0].Cursor, "o": map[string]any{"field": "TITLE"}})
	if r.code() != "BAD_USER_INPUT" || r.field() != "after" {
		t.Fatalf("cursor of another ordering: %s", r.Raw)
	}
	r = e.do(a, `query($after: String) { tasks(first: 2, after: $after, filter: {completed: true}) { totalCount } }`,
		map[string]any{"after": p.Edges[0].Cursor})
	if r.code() != "BAD_USER_INPUT" {
		t.Fatalf("cursor of another filter: %s", r.Raw)
	}
	// first: 0 is an empty page, not an error.
	e.ok(a, q, map[string]any{"first": 0}, "tasks", &p)
	if len(p.Edges) != 0 {
		t.Fatalf("first: 0 gave %d edges", len(p.Edges))
	}
}
