package graph_test

import (
	"fmt"
	"testing"
)

// BenchmarkTasksPageWithTags measures a 50-task page with two tags each through the whole stack
// (token verification, GraphQL, two transactions).
func BenchmarkTasksPageWithTags(b *testing.B) {
	e := newEnv(b)
	t1 := e.createTag(&e.a, "one", nil)
	t2 := e.createTag(&e.a, "two", nil)
	for i := range 50 {
		e.createTask(&e.a, map[string]any{"title": fmt.Sprintf("task %02d", i), "tagIds": []string{t1.ID, t2.ID}})
	}
	const q = `{ tasks(first: 50) { totalCount edges { cursor node { id title dueAt tags { name } } } } }`
	for b.Loop() {
		e.ok(&e.a, q, nil, "tasks", nil)
	}
}

// BenchmarkCreateTask measures one createTask with two tags.
func BenchmarkCreateTask(b *testing.B) {
	e := newEnv(b)
	t1 := e.createTag(&e.a, "one", nil)
	t2 := e.createTag(&e.a, "two", nil)
	in := map[string]any{"title": "bench", "priority": "HIGH", "dueAt": "2026-03-01T10:00:00+05:00", "tagIds": []string{t1.ID, t2.ID}}
	for b.Loop() {
		e.createTask(&e.a, in)
	}
}
