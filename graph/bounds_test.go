package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// MAX_TAGS_PER_TASK and MAX_TAGS_PER_USER: over them is BAD_USER_INPUT naming the field, and
// nothing is written.
func TestTagLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{MaxTagsPerTask: 3, MaxTagsPerUser: 4})
	var ids []string
	for i := range 4 {
		ids = append(ids, e.createTag(&e.a, fmt.Sprintf("tag %d", i), nil).ID)
	}
	refused := func(name, query string, vars map[string]any, field string) {
		t.Helper()
		r := e.do(&e.a, query, vars)
		if r.code() != "BAD_USER_INPUT" || r.field() != field {
			t.Errorf("%s: %s %s, want BAD_USER_INPUT on %s: %.300s", name, r.code(), r.field(), field, r.Raw)
		}
	}
	refused("a fifth tag", `mutation { createTag(input: {name: "five"}) { id } }`, nil, "name")
	before := e.snapshot(e.a.UUID)
	const create = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`
	refused("a task with 4 tags", create, map[string]any{"in": map[string]any{"title": "t", "tagIds": ids}}, "tagIds")
	task := e.createTask(&e.a, map[string]any{"title": "t", "tagIds": append(ids[:3:3], ids[:3]...)}) // repeats count once
	if len(task.Tags) != 3 {
		t.Fatalf("a task with 3 tags, each twice: %+v", task.Tags)
	}
	const update = `mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { id } }`
	refused("an update to 4 tags", update, map[string]any{"id": task.ID, "in": map[string]any{"title": "changed", "tagIds": ids}}, "tagIds")
	// The refused create wrote nothing, the refused update changed nothing: only the task with
	// its three tags is new.
	after := e.snapshot(e.a.UUID)
	if strings.Count(after, "task ") != strings.Count(before, "task ")+1 || strings.Count(after, "link ") != 3 || strings.Contains(after, "changed") {
		t.Errorf("a refused write changed something:\n%s\n---\n%s", before, after)
	}
	// A filter cannot name more tags than a user can have.
	refused("a filter of 5 tags", `query($f: TaskFilter) { tasks(filter: $f) { totalCount } }`,
		map[string]any{"f": map[string]any{"tagIds": []string{newID(), newID(), newID(), newID(), newID()}}}, "tagIds")
	// Another user's limit is their own.
	e.createTag(&e.b, "bob's", nil)
	e.noErrorLogs()
}

// Concurrent createTag calls cannot pass MAX_TAGS_PER_USER together.
func TestTagLimitHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{MaxTagsPerUser: 5})
	var wg sync.WaitGroup
	codes := make([]string, 12)
	for i := range codes {
		wg.Go(func() {
			r := e.do(&e.a, fmt.Sprintf(`mutation { createTag(input: {name: "t%d"}) { id } }`, i), nil)
			codes[i] = r.code()
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case "":
			created++
		case "BAD_USER_INPUT":
		default:
			t.Errorf("code %s", c)
		}
	}
	if created != 5 {
		t.Fatalf("%d created, want 5 (codes %v)", created, codes)
	}
	if n := strings.Count(e.snapshot(e.a.UUID), "tag "); n != 5 {
		t.Fatalf("the user has %d tags", n)
	}
}

// A query or mutation that runs past REQUEST_TIMEOUT is answered REQUEST_TIMEOUT, without an ERROR
// log line, and its statement stops in PostgreSQL (lib/pq cancels it when the context ends).
func TestRequestTimeoutCancelsTheDatabaseWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	task := e.createTask(&e.a, map[string]any{"title": "locked"})
	e.serve(graph.Options{RequestTimeout: time.Second})

	// Another transaction holds the task's row: the update waits for it.
	ctx := context.Background()
	lock, err := e.x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback() }()
	lock.MustExec(`SELECT set_config('app.user_uuid', $1, true)`, e.a.UUID.String())
	lock.MustExec(`SELECT id FROM tasks WHERE id = $1 FOR UPDATE`, task.ID)

	waiting := func() int {
		var n int
		err := e.x.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock'
			AND query LIKE '%SELECT id, title%FOR UPDATE%'`) // after the transaction's opening, in its message
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const update = `mutation($id: ID!) { updateTask(id: $id, input: {title: "waited"}) { id } }`
	done := make(chan response)
	go func() { done <- e.do(&e.a, update, map[string]any{"id": task.ID}) }()
	testkit.WaitFor(t, "the update to wait for the lock", 5*time.Second, func() bool { return waiting() == 1 })
	r := <-done
	if r.code() != "REQUEST_TIMEOUT" || r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	// Nothing of ours is left waiting on the lock.
	testkit.WaitFor(t, "the statement to be cancelled", 5*time.Second, func() bool { return waiting() == 0 })
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	var got taskJSON
	e.ok(&e.a, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": task.ID}, "task", &got)
	if got.Title != "locked" {
		t.Fatalf("the timed-out update was written: %+v", got)
	}
	if strings.Contains(e.logs.String(), "level=ERROR") || !strings.Contains(e.logs.String(), "level=WARN") {
		t.Errorf("want a warning, no error:\n%s", e.logs)
	}
}

// Automatic persisted queries (Apollo's protocol, gqlgen's extension): a hash resolves only to a
// document the server validated, held in the query cache.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apq := func(query, hash string) (int, string, string) {
		body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		if query != "" {
			body["query"] = query
		}
		b, _ := json.Marshal(body)
		return e.post(string(b), "")
	}
	sum := func(q string) string { s := sha256.Sum256([]byte(q)); return hex.EncodeToString(s[:]) }

	const q = `query Persisted { __typename }`
	if status, code, raw := apq("", sum(q)); status != http.StatusOK || code != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %d %s", status, raw)
	}
	if _, code, raw := apq(q, sum(q)); code != "" || !strings.Contains(raw, `"__typename":"Query"`) {
		t.Fatalf("with the document: %s", raw)
	}
	if _, code, raw := apq("", sum(q)); code != "" || !strings.Contains(raw, `"__typename":"Query"`) {
		t.Fatalf("the hash alone, after: %s", raw)
	}
	// A document that fails validation, or a limit, is never stored under its hash.
	for _, bad := range []string{`query Bad { nope }`, repeatedField(700)} {
		apq(bad, sum(bad))
		if _, code, raw := apq("", sum(bad)); code != "PERSISTED_QUERY_NOT_FOUND" {
			t.Errorf("%.40s: the hash alone: %s", bad, raw)
		}
	}
	if status, code, _ := apq(q, sum("something else")); status != http.StatusOK || code != "BAD_REQUEST" {
		t.Errorf("a hash that does not match: %d %s", status, code)
	}
}

// Issue 20: persisted queries registered by signed-in users and by anonymous clients have
// budgets of their own. A hash sent without a token resolves only documents anonymous requests
// registered (so it tells nothing of what a signed-in user runs), and 1,100 distinct anonymous
// documents do not evict a signed-in user's.
func TestPersistedQueriesBudgetsBySignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sum := func(q string) string { s := sha256.Sum256([]byte(q)); return hex.EncodeToString(s[:]) }
	// persisted sends query's hash as a persisted query, with its text (an APQ registration) or
	// without (a lookup).
	persisted := func(u *auth.User, query string, withText bool) response {
		t.Helper()
		params := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sum(query)}}}
		if withText {
			params["query"] = query
		}
		b, _ := json.Marshal(params)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if u != nil {
			req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(t, *u))
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		r := response{Status: rec.Code, Raw: rec.Body.String()}
		_ = json.Unmarshal(rec.Body.Bytes(), &r)
		return r
	}
	apq := func(u *auth.User, query string) response { t.Helper(); return persisted(u, query, true) }
	hashOnly := func(u *auth.User, query string) response { t.Helper(); return persisted(u, query, false) }
	const private = `query AliceSecret { __typename me { id } }`
	if r := apq(&e.a, private); r.code() != "" {
		t.Fatalf("registering as Alice: %s", r.Raw)
	}
	if r := hashOnly(&e.a, private); r.code() != "" {
		t.Fatalf("Alice's hash, signed in: %s", r.Raw)
	}
	if r := hashOnly(nil, private); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("Alice's hash without a token: %s, want PERSISTED_QUERY_NOT_FOUND (it would reveal the document was run)", r.Raw)
	}
	for i := range 1100 {
		if r := apq(nil, fmt.Sprintf("{ __typename } # %d", i)); r.code() != "" {
			t.Fatalf("anonymous document %d: %s", i, r.Raw)
		}
	}
	if r := hashOnly(&e.a, private); r.code() != "" {
		t.Fatalf("after 1,100 anonymous documents, Alice's persisted query: %s", r.Raw)
	}
}
