package graph_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
)

const taskFields = `id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color }`

type tagJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Color     *string `json:"color"`
	CreatedAt string  `json:"createdAt"`
}

type taskJSON struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description *string   `json:"description"`
	Completed   bool      `json:"completed"`
	CompletedAt *string   `json:"completedAt"`
	Priority    *string   `json:"priority"`
	DueAt       *string   `json:"dueAt"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
	Tags        []tagJSON `json:"tags"`
}

func (e *env) createTag(u *auth.User, name string, color *string) tagJSON {
	e.t.Helper()
	var tag tagJSON
	e.ok(u, `mutation($in: CreateTagInput!) { createTag(input: $in) { id name color createdAt } }`,
		map[string]any{"in": map[string]any{"name": name, "color": color}}, "createTag", &tag)
	return tag
}

func (e *env) createTask(u *auth.User, in map[string]any) taskJSON {
	e.t.Helper()
	var task taskJSON
	e.ok(u, `mutation($in: CreateTaskInput!) { createTask(input: $in) { `+taskFields+` } }`,
		map[string]any{"in": in}, "createTask", &task)
	return task
}

func TestEveryFieldNeedsAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ops := []string{
		`{ me { id } }`,
		`{ task(id: "` + newID() + `") { id } }`,
		`{ tasks { totalCount } }`,
		`{ tags { id } }`,
		`{ tag(id: "` + newID() + `") { id } }`,
		`mutation { createTask(input: {title: "x"}) { id } }`,
		`mutation { updateTask(id: "` + newID() + `", input: {title: "x"}) { id } }`,
		`mutation { deleteTask(id: "` + newID() + `") }`,
		`mutation { createTag(input: {name: "x"}) { id } }`,
		`mutation { updateTag(id: "` + newID() + `", input: {name: "x"}) { id } }`,
		`mutation { deleteTag(id: "` + newID() + `") }`,
	}
	for _, op := range ops {
		r := e.do(nil, op, nil)
		if r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s anonymously: %s", op, r.Raw)
		}
	}
	var n int
	if err := e.x.Get(&n, `SELECT count(*) FROM "user"`); err != nil || n != 2 {
		t.Fatalf("users = %d, %v", n, err)
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var me struct{ ID, UUID, Email, Name string }
	e.ok(&e.a, `{ me { id uuid email name } }`, nil, "me", &me)
	if me.ID != "sub-a" || me.UUID != e.a.UUID.String() || me.Email != "a@example.com" || me.Name != "Alice" {
		t.Fatalf("me = %+v", me)
	}
}

func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := &e.a
	work := e.createTag(a, "  Work ", ptr("#ABC"))
	if work.Name != "Work" || work.Color == nil || *work.Color != "#aabbcc" || !strings.HasSuffix(work.CreatedAt, "Z") {
		t.Fatalf("createTag = %+v", work)
	}
	home := e.createTag(a, "home", ptr(""))
	if home.Color != nil {
		t.Fatalf("empty color = %v, want null", *home.Color)
	}

	task := e.createTask(a, map[string]any{
		"title": "  Write the report  ", "description": "by Friday", "priority": "HIGH",
		"dueAt": "2026-03-01T10:00:00+05:00", "tagIds": []string{work.ID, home.ID},
	})
	if task.Title != "Write the report" || task.Completed || task.CompletedAt != nil || *task.Priority != "HIGH" {
		t.Fatalf("createTask = %+v", task)
	}
	if *task.DueAt != "2026-03-01T05:00:00Z" {
		t.Fatalf("dueAt = %s, want 2026-03-01T05:00:00Z", *task.DueAt)
	}
	if len(task.Tags) != 2 || task.Tags[0].Name != "home" || task.Tags[1].Name != "Work" {
		t.Fatalf("tags = %+v", task.Tags)
	}
	for _, ts := range []string{task.CreatedAt, task.UpdatedAt} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Fatalf("timestamp %q is not UTC RFC 3339", ts)
		}
	}

	var got *taskJSON
	e.ok(a, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": task.ID}, "task", &got)
	if got == nil || got.ID != task.ID || len(got.Tags) != 2 {
		t.Fatalf("task = %+v", got)
	}

	// Patch: an omitted field stays, null clears, tagIds replaces, completed sets completedAt.
	const update = `mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { ` + taskFields + ` } }`
	var up taskJSON
	e.ok(a, update, map[string]any{"id": task.ID, "in": map[string]any{
		"description": nil, "completed": true, "tagIds": []string{work.ID},
	}}, "updateTask", &up)
	if up.Title != task.Title || up.Description != nil || up.Priority == nil || *up.Priority != "HIGH" ||
		up.DueAt == nil || *up.DueAt != *task.DueAt || !up.Completed || up.CompletedAt == nil ||
		len(up.Tags) != 1 || up.Tags[0].ID != work.ID {
		t.Fatalf("after patch 1: %+v", up)
	}
	if up.UpdatedAt == task.UpdatedAt || up.CreatedAt != task.CreatedAt {
		t.Fatalf("updatedAt must change, createdAt must not: %+v vs %+v", up, task)
	}
	var up2 taskJSON
	e.ok(a, update, map[string]any{"id": task.ID, "in": map[string]any{
		"title": "Renamed", "priority": nil, "dueAt": nil, "completed": false, "tagIds": []string{},
	}}, "updateTask", &up2)
	if up2.Title != "Renamed" || up2.Priority != nil || up2.DueAt != nil || up2.Completed || up2.CompletedAt != nil || len(up2.Tags) != 0 {
		t.Fatalf("after patch 2: %+v", up2)
	}
	if up2.UpdatedAt <= up.UpdatedAt {
		t.Fatalf("updatedAt did not move forward: %s then %s", up.UpdatedAt, up2.UpdatedAt)
	}
	// An empty patch still touches updatedAt and nothing else.
	var up3 taskJSON
	e.ok(a, update, map[string]any{"id": task.ID, "in": map[string]any{}}, "updateTask", &up3)
	if up3.Title != "Renamed" || up3.UpdatedAt <= up2.UpdatedAt {
		t.Fatalf("after empty patch: %+v", up3)
	}

	// Tags: patch, list, delete.
	const updateTag = `mutation($id: ID!, $in: UpdateTagInput!) { updateTag(id: $id, input: $in) { id name color } }`
	var tg tagJSON
	e.ok(a, updateTag, map[string]any{"id": work.ID, "in": map[string]any{"name": "Job"}}, "updateTag", &tg)
	if tg.Name != "Job" || tg.Color == nil || *tg.Color != "#aabbcc" {
		t.Fatalf("rename kept color? %+v", tg)
	}
	e.ok(a, updateTag, map[string]any{"id": work.ID, "in": map[string]any{"color": nil}}, "updateTag", &tg)
	if tg.Name != "Job" || tg.Color != nil {
		t.Fatalf("color null clears: %+v", tg)
	}
	e.ok(a, updateTag, map[string]any{"id": work.ID, "in": map[string]any{"color": "#00FF00"}}, "updateTag", &tg)
	if tg.Color == nil || *tg.Color != "#00ff00" {
		t.Fatalf("color set: %+v", tg)
	}
	r := e.do(a, updateTag, map[string]any{"id": home.ID, "in": map[string]any{"name": "JOB"}})
	if r.code() != "CONFLICT" {
		t.Fatalf("rename to a taken name (other case): %s", r.Raw)
	}
	r = e.do(a, `mutation { createTag(input: {name: "job"}) { id } }`, nil)
	if r.code() != "CONFLICT" {
		t.Fatalf("duplicate tag name: %s", r.Raw)
	}
	var tags []tagJSON
	e.ok(a, `{ tags { id name color createdAt } }`, nil, "tags", &tags)
	if len(tags) != 2 || tags[0].Name != "home" || tags[1].Name != "Job" {
		t.Fatalf("tags = %+v", tags)
	}
	var one *tagJSON
	e.ok(a, `query($id: ID!) { tag(id: $id) { id name } }`, map[string]any{"id": home.ID}, "tag", &one)
	if one == nil || one.Name != "home" {
		t.Fatalf("tag = %+v", one)
	}
	var deleted string
	e.ok(a, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": home.ID}, "deleteTag", &deleted)
	if deleted != home.ID {
		t.Fatalf("deleteTag = %q", deleted)
	}
	e.ok(a, `query($id: ID!) { tag(id: $id) { id } }`, map[string]any{"id": home.ID}, "tag", &one)
	if one != nil {
		t.Fatalf("deleted tag still there")
	}
	e.ok(a, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": task.ID}, "deleteTask", &deleted)
	if deleted != task.ID {
		t.Fatalf("deleteTask = %q", deleted)
	}
	got = nil
	e.ok(a, `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": task.ID}, "task", &got)
	if got != nil {
		t.Fatalf("deleted task still there")
	}
	r = e.do(a, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": task.ID})
	if r.code() != "NOT_FOUND" {
		t.Fatalf("deleting twice: %s", r.Raw)
	}
}

func TestCreateTaskWithUnknownTagWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tag := e.createTag(&e.a, "ok", nil)
	r := e.do(&e.a, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"title": "x", "tagIds": []string{tag.ID, newID()}}})
	if r.code() != "NOT_FOUND" || r.field() != "tagIds" {
		t.Fatalf("unknown tag: %s", r.Raw)
	}
	var total int
	e.ok(&e.a, `{ tasks { totalCount } }`, nil, "tasks", &struct{ TotalCount *int }{&total})
	if total != 0 {
		t.Fatalf("a task was written: total %d", total)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := &e.a
	tag := e.createTag(a, "t", nil)
	task := e.createTask(a, map[string]any{"title": "keep", "description": "keep"})
	const create = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`
	const update = `mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { id } }`
	const createTag = `mutation($in: CreateTagInput!) { createTag(input: $in) { id } }`
	const updateTag = `mutation($id: ID!, $in: UpdateTagInput!) { updateTag(id: $id, input: $in) { id } }`
	const list = `query($f: TaskFilter, $first: Int, $last: Int, $after: String, $before: String) {
		tasks(filter: $f, first: $first, last: $last, after: $after, before: $before) { totalCount } }`
	in := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"blank title", create, in("in", in("title", "   ")), "title"},
		{"long title", create, in("in", in("title", strings.Repeat("é", 501))), "title"},
		{"long description", create, in("in", in("title", "x", "description", strings.Repeat("a", 10001))), "description"},
		{"bad tag id", create, in("in", in("title", "x", "tagIds", []string{"nope"})), "tagIds"},
		{"offset-less dueAt", create, in("in", in("title", "x", "dueAt", "2026-03-01T10:00:00")), "dueAt"},
		{"date-only dueAt", create, in("in", in("title", "x", "dueAt", "2026-03-01")), "dueAt"},
		{"update bad id", update, in("id", "42", "in", in("title", "x")), "id"},
		{"update blank title", update, in("id", task.ID, "in", in("title", "")), "title"},
		{"update long description", update, in("id", task.ID, "in", in("description", strings.Repeat("a", 10001))), "description"},
		{"update bad tag id", update, in("id", task.ID, "in", in("tagIds", []string{"x"})), "tagIds"},
		{"update offset-less dueAt", update, in("id", task.ID, "in", in("dueAt", "2026-03-01T10:00:00.5")), "dueAt"},
		{"NUL in title", create, in("in", in("title", "a\x00b")), "title"},
		{"NUL in description", update, in("id", task.ID, "in", in("description", "\x00")), "description"},
		{"NUL in tag name", createTag, in("in", in("name", "a\x00")), "name"},
		{"NUL in search", list, in("f", in("search", "\x00")), "search"},
		{"blank tag name", createTag, in("in", in("name", " ")), "name"},
		{"long tag name", createTag, in("in", in("name", strings.Repeat("n", 51))), "name"},
		{"bad color", createTag, in("in", in("name", "n", "color", "red")), "color"},
		{"five-digit color", createTag, in("in", in("name", "n", "color", "#12345")), "color"},
		{"update tag bad color", updateTag, in("id", tag.ID, "in", in("color", "#ggg")), "color"},
		{"update tag blank name", updateTag, in("id", tag.ID, "in", in("name", "")), "name"},
		{"update tag bad id", updateTag, in("id", "x", "in", in("name", "n")), "id"},
		{"long search", list, in("f", in("search", strings.Repeat("s", 201))), "search"},
		{"filter bad tag id", list, in("f", in("tagIds", []string{"x"})), "tagIds"},
		{"filter offset-less dueAfter", list, in("f", in("dueAfter", "2026-03-01T10:00:00")), "dueAfter"},
		{"first over 100", list, in("first", 101), "first"},
		{"negative first", list, in("first", -1), "first"},
		{"negative last", list, in("last", -1), "last"},
		{"first and last", list, in("first", 1, "last", 1), "last"},
		{"malformed cursor", list, in("after", "garbage"), "after"},
		{"malformed before cursor", list, in("last", 2, "before", "Zm9v"), "before"},
		{"task bad id", `query($id: ID!) { task(id: $id) { id } }`, in("id", "not-a-uuid"), "id"},
		{"tag bad id", `query($id: ID!) { tag(id: $id) { id } }`, in("id", "not-a-uuid"), "id"},
		{"delete bad id", `mutation($id: ID!) { deleteTask(id: $id) }`, in("id", "1"), "id"},
		{"delete tag bad id", `mutation($id: ID!) { deleteTag(id: $id) }`, in("id", "1"), "id"},
		{"literal offset-less dueAt", `mutation { createTask(input: {title: "x", dueAt: "2026-03-01T10:00:00"}) { id } }`, nil, "dueAt"},
	}
	for _, tc := range cases {
		r := e.do(a, tc.query, tc.vars)
		if r.code() != "BAD_USER_INPUT" || (tc.field != "" && r.field() != tc.field) {
			t.Errorf("%s: want BAD_USER_INPUT on %q, got %s", tc.name, tc.field, r.Raw)
		}
		if r.Status >= 500 {
			t.Errorf("%s: status %d", tc.name, r.Status)
		}
	}
	// 500 characters (not bytes) is fine.
	e.createTask(a, map[string]any{"title": strings.Repeat("é", 500)})

	// Nothing invalid was written and the task is as it was.
	var page struct {
		TotalCount int
		Nodes      []taskJSON
	}
	e.ok(a, `{ tasks(orderBy: {field: CREATED_AT, direction: ASC}) { totalCount nodes { title description } } }`, nil, "tasks", &page)
	if page.TotalCount != 2 || page.Nodes[0].Title != "keep" || *page.Nodes[0].Description != "keep" {
		t.Fatalf("tasks after invalid requests = %+v", page)
	}
	var tags []tagJSON
	e.ok(a, `{ tags { name } }`, nil, "tags", &tags)
	if len(tags) != 1 {
		t.Fatalf("tags after invalid requests = %+v", tags)
	}
}

func TestTimesAreUTCAndFiltersCompareAcrossOffsets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := &e.a
	first := e.createTask(a, map[string]any{"title": "first", "dueAt": "2026-03-01T10:00:00+05:00"})   // 05:00Z
	second := e.createTask(a, map[string]any{"title": "second", "dueAt": "2026-02-28T22:00:00-08:00"}) // 06:00Z
	third := e.createTask(a, map[string]any{"title": "third", "dueAt": "2026-03-01T07:00:00.250Z"})    // 07:00:00.25Z
	e.createTask(a, map[string]any{"title": "no due date"})
	if *first.DueAt != "2026-03-01T05:00:00Z" || *second.DueAt != "2026-03-01T06:00:00Z" || *third.DueAt != "2026-03-01T07:00:00.25Z" {
		t.Fatalf("dueAt not converted to UTC: %s %s %s", *first.DueAt, *second.DueAt, *third.DueAt)
	}
	const q = `query($f: TaskFilter) { tasks(filter: $f, orderBy: {field: DUE_AT, direction: ASC}) { nodes { title dueAt } } }`
	cases := []struct {
		f    map[string]any
		want string
	}{
		{map[string]any{"dueAfter": "2026-03-01T10:30:00+05:00"}, "second,third"},
		{map[string]any{"dueBefore": "2026-03-01T01:00:00-05:00"}, "first"},
		{map[string]any{"dueAfter": "2026-03-01T05:00:00Z", "dueBefore": "2026-03-01T08:00:00+01:00"}, "first,second"},
		{map[string]any{"dueAfter": "2026-02-28T00:00:00-12:00"}, "first,second,third"},
	}
	for _, tc := range cases {
		var page struct{ Nodes []taskJSON }
		e.ok(a, q, map[string]any{"f": tc.f}, "tasks", &page)
		var got []string
		for _, n := range page.Nodes {
			got = append(got, n.Title)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("filter %v: got %v, want %s", tc.f, got, tc.want)
		}
	}
}

func TestInternalErrorsAreMaskedAndLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_ = e.x.Close() // every statement now fails inside the driver layer
	r := e.do(&e.a, `{ tags { id } }`, nil)
	if r.code() != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != "internal server error" {
		t.Fatalf("want a generic internal error, got %s", r.Raw)
	}
	if strings.Contains(strings.ToLower(r.Raw), "sql") || strings.Contains(r.Raw, "db:") {
		t.Fatalf("response leaks internals: %s", r.Raw)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "graphql: internal error") || !strings.Contains(logs, "sql: database is closed") {
		t.Fatalf("internal error not logged with its cause: %q", logs)
	}
}
