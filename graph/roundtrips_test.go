package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// The SQL round trips of the hot path, counted on the wire (internal/pgwire) with the pool as the
// server opens it (db.Open): a page of tasks with tags, whatever its size, a task by id and
// createTask with tags are two each: the transaction's opening (BEGIN, role, user) with its one statement in one message, then COMMIT. A change that
// adds one fails here; one that removes one lowers these numbers.
func TestRoundTripsOfTheHotPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, proxy := testkit.NewProxiedDBURL(t)
	x, err := db.Open(ctx, dbURL, db.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	store := db.NewStore(x)
	u := auth.User{ID: "rt", Email: "rt@example.com", Name: "RT"}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	var tags []string
	for k := range 3 {
		tag, err := store.CreateTag(ctx, u.UUID, db.NewTag{Name: fmt.Sprintf("tag %d", k)})
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag.ID.String())
	}
	var taskID string
	for i := range 120 {
		in := db.NewTask{Title: fmt.Sprintf("task %d", i)}
		for _, id := range tags[:i%4] {
			in.TagIDs = append(in.TagIDs, uuid.MustParse(id))
		}
		task, err := store.CreateTask(ctx, u.UUID, in)
		if err != nil {
			t.Fatal(err)
		}
		taskID = task.ID.String()
	}
	iss := testkit.NewIssuer(t, "EdDSA")
	h := auth.Middleware(iss.Verifier(t, store))(graph.NewServer(store, graph.Options{Logger: slog.New(slog.DiscardHandler)}))
	token := iss.TokenFor(t, u)

	post := func(query string, vars map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			t.Fatalf("%d: %s", rec.Code, rec.Body)
		}
	}
	const fields = `id title description completed priority dueAt createdAt tags { id name color }`
	const page = `query TasksPage($first: Int!) { tasks(first: $first) { edges { cursor node { ` + fields + ` } } pageInfo { hasNextPage endCursor } } }`
	const create = `mutation($in: CreateTaskInput!) { createTask(input: $in) { ` + fields + ` } }`
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		// Reads are compiled into one statement, sent with the transaction in one message.
		{"page1 (first: 20)", page, map[string]any{"first": 20}, 1},
		{"page of 100", page, map[string]any{"first": 100}, 1},
		{"task(id)", `query($id: ID!) { task(id: $id) { ` + fields + ` } }`, map[string]any{"id": taskID}, 1},
		{"createTask with 2 tags", create, map[string]any{"in": map[string]any{"title": "new", "priority": "HIGH", "tagIds": tags[:2]}}, 2},
	} {
		post(c.query, c.vars) // the pool's sessions exist and the query is parsed
		proxy.Reset()
		post(c.query, c.vars)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := proxy.WaitIdle(wctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		rec := proxy.Snapshot()
		if rec.RoundTrips != c.want || rec.Connections != 0 {
			var sqls []string
			for _, s := range rec.Statements {
				sqls = append(sqls, s.SQL)
			}
			t.Errorf("%s: %d round trips and %d new sessions, want %d and 0; statements:\n%q", c.name, rec.RoundTrips, rec.Connections, c.want, sqls)
		}
	}
}
