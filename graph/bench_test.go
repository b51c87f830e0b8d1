package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// BenchmarkTasksPageWithTags measures a 50-task page with two tags each through the whole stack
// (token verification, GraphQL, one transaction).
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

// benchEnv is the server's stack as serve builds it, for the resolver-path benchmarks: the pool
// configured by db.Open (not the tests' statement-counting one), auth.Middleware with a verifier
// of a real JWKS, graph.NewServer with its logger discarded; one user with 8 tags and 200 tasks
// carrying 0–3 of them, half with a priority; a token minted once.
type benchEnv struct {
	handler   http.Handler
	resolvers http.Handler // the same with the compiled read path off
	token     string
	taskIDs   []string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	x, err := db.Open(ctx, testkit.NewDBURL(b), db.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = x.Close() })
	store := db.NewStore(x)
	u := auth.User{ID: "bench", Email: "bench@example.com", Name: "Bench"}
	u.UUID = testkit.CreateUser(b, x, u.ID, u.Email, u.Name)
	var tags []uuid.UUID
	for k := range 8 {
		t, err := store.CreateTag(ctx, u.UUID, db.NewTag{Name: fmt.Sprintf("tag %d", k)})
		if err != nil {
			b.Fatal(err)
		}
		tags = append(tags, t.ID)
	}
	e := &benchEnv{}
	for i := range 200 {
		in := db.NewTask{Title: fmt.Sprintf("Review pull request #%d", i), Description: ptr("Check the tests and the docs before approving it."),
			TagIDs: tags[i%8 : i%8+min(i%4, 8-i%8)]}
		if i%2 == 0 {
			in.Priority = ptr(db.Priority(1 + i%4))
		}
		t, err := store.CreateTask(ctx, u.UUID, in)
		if err != nil {
			b.Fatal(err)
		}
		e.taskIDs = append(e.taskIDs, t.ID.String())
	}
	iss := testkit.NewIssuer(b, "EdDSA")
	srv := graph.NewServer(store, graph.Options{Logger: slog.New(slog.DiscardHandler)})
	e.handler = auth.Middleware(iss.Verifier(b, store))(srv)
	srv = graph.NewServer(store, graph.Options{Logger: slog.New(slog.DiscardHandler), ResolversOnly: true})
	e.resolvers = auth.Middleware(iss.Verifier(b, store))(srv)
	e.token = iss.TokenFor(b, u)
	return e
}

func (e *benchEnv) post(body []byte) error { return e.postTo(e.handler, body) }

func (e *benchEnv) postTo(h http.Handler, body []byte) error {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors":`)) {
		return fmt.Errorf("status %d: %.300s", rec.Code, rec.Body)
	}
	return nil
}

func gqlBody(b *testing.B, query string, vars map[string]any) []byte {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// The documents of make bench's page1 and task scenarios (bench/scenarios.go).
const (
	benchTaskFields = `id title description completed priority dueAt createdAt tags { id name color }`
	benchPage1      = `query TasksPage($first: Int!, $after: String) { tasks(first: $first, after: $after) { edges { cursor node { ` +
		benchTaskFields + ` } } pageInfo { hasNextPage endCursor } } }`
	benchTask = `query Task($id: ID!) { task(id: $id) { ` + benchTaskFields + ` } }`
)

// BenchmarkPage1 is make bench's page1 request (20 tasks with tags) through the whole stack, one
// at a time, by each executor (compiled reads, and gqlgen's resolvers as before issue 18).
func BenchmarkPage1(b *testing.B) {
	e := newBenchEnv(b)
	body := gqlBody(b, benchPage1, map[string]any{"first": 20})
	for _, x := range []struct {
		name string
		h    http.Handler
	}{{"executor=compiled", e.handler}, {"executor=resolvers", e.resolvers}} {
		b.Run(x.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := e.postTo(x.h, body); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkPage1Concurrent sends page1 from 20 goroutines at once, as make bench's 20 connections
// do: pool behaviour (churn, waits) shows here and not in BenchmarkPage1.
func BenchmarkPage1Concurrent(b *testing.B) {
	e := newBenchEnv(b)
	body := gqlBody(b, benchPage1, map[string]any{"first": 20})
	b.SetParallelism(max(1, 20/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.post(body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTaskByID is make bench's task request: one task with its tags.
func BenchmarkTaskByID(b *testing.B) {
	e := newBenchEnv(b)
	bodies := make([][]byte, len(e.taskIDs))
	for i, id := range e.taskIDs {
		bodies[i] = gqlBody(b, benchTask, map[string]any{"id": id})
	}
	for _, x := range []struct {
		name string
		h    http.Handler
	}{{"executor=compiled", e.handler}, {"executor=resolvers", e.resolvers}} {
		b.Run(x.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			i := 0
			for b.Loop() {
				if err := e.postTo(x.h, bodies[i%len(bodies)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu)
		})
	}
}

// processCPU is this process's CPU time so far (user + system): the server's work and the
// client's, without PostgreSQL's, and much less sensitive than ns/op to a host shared with others.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since start as cpu-ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
