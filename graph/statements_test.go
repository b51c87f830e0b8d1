package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/graph"
)

// Task.tags for a whole page must cost one query, whatever the page size.
func TestTagsOfAPageCostConstantStatements(t *testing.T) {
	t.Parallel()
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
	// The loader batches what arrives within its wait window; on a starved machine a batch can split.
	// N+1 is deterministic, a split is not: take the best of three.
	best := func(n int) int64 { return min(count(n), count(n), count(n)) }
	small, big := best(5), best(50)
	t.Logf("statements: first 5 → %d, first 50 → %d", small, big)
	if big != small {
		t.Fatalf("statements grow with the page: %d for 5 tasks, %d for 50", small, big)
	}
	// One transaction: its opening message (BEGIN and settings), the page with its tags, COMMIT.
	if big > 3 {
		t.Fatalf("%d statements for a page with tags, want at most 3", big)
	}
}

// The resolvers count in a statement of their own; the compiled path counts inside its one
// statement, only when selected too (TestCompiledCountsOnlyWhenSelected).
func TestTotalCountOnlyWhenSelected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{ResolversOnly: true})
	for i := range 3 {
		e.createTask(&e.a, map[string]any{"title": fmt.Sprintf("t%d", i)})
	}
	e.stmts.Store(0)
	e.ok(&e.a, `{ tasks(first: 2) { nodes { id } } }`, nil, "tasks", nil)
	without := e.stmts.Load()
	var p struct{ TotalCount int }
	e.stmts.Store(0)
	e.ok(&e.a, `{ tasks(first: 2) { totalCount nodes { id } } }`, nil, "tasks", &p)
	with := e.stmts.Load()
	if p.TotalCount != 3 || with != without+1 {
		t.Fatalf("totalCount %d with %d statements, %d without; want 3 and exactly one more", p.TotalCount, with, without)
	}
	// Through a fragment it is still seen.
	e.ok(&e.a, `{ tasks(first: 1) { ...F } } fragment F on TaskConnection { totalCount }`, nil, "tasks", &p)
	if p.TotalCount != 3 {
		t.Fatalf("totalCount via fragment = %d", p.TotalCount)
	}
}

// Task.tags is filled from what the list statement read: however a client reaches the tags
// (fragments, inline fragments, aliases, directives), the page must carry them.
func TestTagsOfAPageThroughFragmentsAndAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := &e.a
	t1 := e.createTag(a, "one", nil)
	t2 := e.createTag(a, "two", nil)
	e.createTask(a, map[string]any{"title": "tagged", "tagIds": []string{t2.ID, t1.ID}})
	for name, q := range map[string]string{
		"fragments": `{ tasks { ...C } } fragment C on TaskConnection { edges { node { ...T } } } fragment T on Task { tags { name } }`,
		"inline":    `{ tasks { nodes { ... on Task { tags { name } } } } }`,
		"aliases":   `{ tasks { nodes { labels: tags { name } } } }`,
		"include":   `query($x: Boolean = true) { tasks { nodes { tags @include(if: $x) { name } } } }`,
		"nested":    `{ tasks { ... on TaskConnection { ...N } } } fragment N on TaskConnection { nodes { id ...T } } fragment T on Task { tags { name } }`,
	} {
		r := e.do(a, q, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %s", name, r.Raw)
		}
		if got := strings.Count(r.Raw, `"name":"`); got != 2 || !strings.Contains(r.Raw, `"one"`) || !strings.Contains(r.Raw, `"two"`) {
			t.Errorf("%s: %s, want the tags one and two", name, r.Raw)
		}
	}
}
