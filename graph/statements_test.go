package graph_test

import (
	"fmt"
	"testing"
)

// Task.tags for a whole page must cost one query, whatever the page size.
func TestTagsOfAPageCostConstantStatements(t *testing.T) {
	e := newEnv(t)
	a := &e.a
	t1 := e.createTag(a, "one", nil)
	t2 := e.createTag(a, "two", nil)
	for i := range 50 {
		e.createTask(a, map[string]any{"title": fmt.Sprintf("task %02d", i), "tagIds": []string{t1.ID, t2.ID}})
	}
	const q = `query($n: Int) { tasks(first: $n) { edges { node { tags { name } } } } }`
	count := func(n int) int64 {
		t.Helper()
		var p struct {
			Edges []struct{ Node struct{ Tags []tagJSON } }
		}
		e.stmts.Store(0)
		e.ok(a, q, map[string]any{"n": n}, "tasks", &p)
		got := e.stmts.Load()
		if len(p.Edges) != n {
			t.Fatalf("first: %d gave %d edges", n, len(p.Edges))
		}
		for _, edge := range p.Edges {
			if len(edge.Node.Tags) != 2 {
				t.Fatalf("a task has tags %+v, want two", edge.Node.Tags)
			}
		}
		return got
	}
	small, big := count(5), count(50)
	t.Logf("statements: first 5 → %d, first 50 → %d", small, big)
	if big != small {
		t.Fatalf("statements grow with the page: %d for 5 tasks, %d for 50", small, big)
	}
	// Two transactions (page, tags), each BEGIN + settings + one query.
	if big > 6 {
		t.Fatalf("%d statements for a page with tags, want at most 6", big)
	}
}
