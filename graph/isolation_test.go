package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
)

// snapshot returns every row of the user's tasks, tags and task_tags, as PostgreSQL prints them.
func (e *env) snapshot(user uuid.UUID) string {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.x.BeginTxx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true)`, db.AppRole, user.String()); err != nil {
		e.t.Fatal(err)
	}
	var rows []string
	const q = `SELECT 'task ' || t::text FROM tasks t UNION ALL SELECT 'tag ' || g::text FROM tags g
		UNION ALL SELECT 'link ' || l::text FROM task_tags l ORDER BY 1`
	if err := tx.SelectContext(ctx, &rows, q); err != nil {
		e.t.Fatal(err)
	}
	return strings.Join(rows, "\n")
}

// normalize strips what legitimately differs between two answers (nothing but the ids we sent).
func normalize(r response, ids ...string) string {
	s := r.Raw
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, "<id>")
	}
	return s
}

func TestUserBCannotSeeChangeOrDetectUserA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := &e.a, &e.b
	aTag := e.createTag(a, "secret", ptr("#ff0000"))
	aTask := e.createTask(a, map[string]any{"title": "A's plan", "description": "private", "tagIds": []string{aTag.ID}})
	e.createTask(a, map[string]any{"title": "A's other"})
	bTag := e.createTag(b, "mine", nil)
	bTask := e.createTask(b, map[string]any{"title": "B's", "tagIds": []string{bTag.ID}})
	var aPage struct {
		Edges []struct{ Cursor string }
	}
	e.ok(a, `{ tasks(first: 1) { edges { cursor } } }`, nil, "tasks", &aPage)
	aCursor := aPage.Edges[0].Cursor

	before := e.snapshot(e.a.UUID)
	bBefore := e.snapshot(e.b.UUID)

	// Each operation, once with A's id and once with a random one: the answers must be identical.
	ops := []struct {
		name  string
		query string
		vars  func(id string) map[string]any
	}{
		{"task", `query($id: ID!) { task(id: $id) { id title } }`, func(id string) map[string]any { return map[string]any{"id": id} }},
		{"tag", `query($id: ID!) { tag(id: $id) { id name } }`, func(id string) map[string]any { return map[string]any{"id": id} }},
		{"updateTask", `mutation($id: ID!) { updateTask(id: $id, input: {title: "hijack", description: null}) { id } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }},
		{"deleteTask", `mutation($id: ID!) { deleteTask(id: $id) }`, func(id string) map[string]any { return map[string]any{"id": id} }},
		{"updateTag", `mutation($id: ID!) { updateTag(id: $id, input: {name: "hijack", color: null}) { id } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }},
		{"deleteTag", `mutation($id: ID!) { deleteTag(id: $id) }`, func(id string) map[string]any { return map[string]any{"id": id} }},
		{"createTask with tag", `mutation($id: ID!) { createTask(input: {title: "x", tagIds: [$id]}) { id } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }},
		{"updateTask own with tag", `mutation($task: ID!, $id: ID!) { updateTask(id: $task, input: {title: "changed", tagIds: [$id]}) { id } }`,
			func(id string) map[string]any { return map[string]any{"task": bTask.ID, "id": id} }},
		{"tasks filtered by tag", `query($id: ID!) { tasks(filter: {tagIds: [$id]}) { totalCount nodes { id } } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }},
		{"tasks filtered by all tags", `query($id: ID!) { tasks(filter: {tagIds: [$id], tagMatch: ALL}) { totalCount nodes { id } } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }},
	}
	for _, op := range ops {
		// A's task id and A's tag id, wherever any id is expected.
		for _, id := range []string{aTask.ID, aTag.ID} {
			random := newID()
			got := e.do(b, op.query, op.vars(id))
			want := e.do(b, op.query, op.vars(random))
			if normalize(got, id) != normalize(want, random) {
				t.Errorf("%s with A's id differs from a random id:\n A's:   %s\n random: %s", op.name, got.Raw, want.Raw)
			}
			if strings.Contains(got.Raw, "secret") || strings.Contains(got.Raw, "A's") {
				t.Errorf("%s leaked A's data: %s", op.name, got.Raw)
			}
		}
	}

	// A's cursor means nothing to B: the same answer as a made-up cursor.
	const list = `query($after: String) { tasks(first: 5, after: $after) { nodes { id } } }`
	got := e.do(b, list, map[string]any{"after": aCursor})
	fake := strings.Repeat("x", len(aCursor))
	want := e.do(b, list, map[string]any{"after": fake})
	if got.code() != "BAD_USER_INPUT" || normalize(got) != normalize(want) {
		t.Errorf("A's cursor for B:\n %s\n made-up: %s", got.Raw, want.Raw)
	}

	// B's lists hold only B's rows.
	var tags []tagJSON
	e.ok(b, `{ tags { id name } }`, nil, "tags", &tags)
	if len(tags) != 1 || tags[0].ID != bTag.ID {
		t.Errorf("B's tags = %+v", tags)
	}
	var page struct {
		TotalCount int
		Nodes      []taskJSON
	}
	e.ok(b, `{ tasks(first: 100) { totalCount nodes { id title tags { id } } } }`, nil, "tasks", &page)
	if page.TotalCount != 1 || len(page.Nodes) != 1 || page.Nodes[0].ID != bTask.ID || len(page.Nodes[0].Tags) != 1 {
		t.Errorf("B's tasks = %+v", page)
	}
	var me struct{ ID string }
	e.ok(b, `{ me { id } }`, nil, "me", &me)
	if me.ID != "sub-b" {
		t.Errorf("B's me = %+v", me)
	}

	if after := e.snapshot(e.a.UUID); after != before {
		t.Errorf("A's rows changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if after := e.snapshot(e.b.UUID); after != bBefore {
		t.Errorf("B's rows changed by refused operations:\nbefore:\n%s\nafter:\n%s", bBefore, after)
	}
	if before == "" || !strings.Contains(before, "secret") {
		t.Fatalf("snapshot is empty: %q", before)
	}
}
