package db

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// A tasks page encodes one cursor per row and, after the first page, decodes one; both are on
// every list request, with the binding hash that ties a cursor to its list.

func benchQuery() TaskQuery {
	done := false
	return TaskQuery{
		Filter: TaskFilter{Completed: &done, Priorities: []Priority{PriorityUrgent, PriorityHigh}},
		Order:  TaskOrder{Field: SortCreatedAt, Desc: true}, Limit: 20,
	}
}

func BenchmarkCursorBinding(b *testing.B) {
	user, q := uuid.New(), benchQuery()
	b.ReportAllocs()
	for b.Loop() {
		_ = binding(user, q)
	}
}

func BenchmarkCursorEncode(b *testing.B) {
	c := cursor{Bind: binding(uuid.New(), benchQuery()), Value: ptr(time.Now().UTC().Format(time.RFC3339Nano)), ID: uuid.New()}
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeCursor(c)
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	bind := binding(uuid.New(), benchQuery())
	s := encodeCursor(cursor{Bind: bind, Value: ptr(time.Now().UTC().Format(time.RFC3339Nano)), ID: uuid.New()})
	b.ReportAllocs()
	for b.Loop() {
		c, err := decodeCursor(s, bind)
		if err != nil {
			b.Fatal(err)
		}
		if err := checkKey(c.Value, SortCreatedAt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPageCursors is a page's worth of cursors: the binding once, then a sort key and a
// cursor for each of 20 tasks, as ListTasks does.
func BenchmarkPageCursors(b *testing.B) {
	user, q := uuid.New(), benchQuery()
	tasks := make([]Task, 20)
	for i := range tasks {
		tasks[i] = Task{ID: uuid.New(), CreatedAt: time.Now().Add(-time.Duration(i) * time.Hour)}
	}
	b.ReportAllocs()
	for b.Loop() {
		bind := binding(user, q)
		for _, t := range tasks {
			_ = encodeCursor(cursor{Bind: bind, Value: sortKey(t, q.Order.Field), ID: t.ID})
		}
	}
}
