package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/live"
)

// BenchmarkSubscriptionFanout: one change (a task with three tags updated) delivered to n event
// streams of one user with the same document, in process (no network, no client parsing), with
// the shared rendering and per subscriber (as before issue 19). An op is one change to all n;
// ns/delivery is the wall time per subscriber, cpu-ns/delivery this process's CPU per subscriber
// (the hub, gqlgen, the transport; PostgreSQL's own work is not in it).
func BenchmarkSubscriptionFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, mode := range []string{"shared", "per-subscriber"} {
			b.Run(fmt.Sprintf("%s/n=%d", mode, n), func(b *testing.B) { benchFanout(b, n, mode == "per-subscriber") })
		}
	}
}

func benchFanout(b *testing.B, n int, perSubscriber bool) {
	e := newEnv(b)
	hub := newHub(b, e, live.Config{PerUser: n, SocketsPerUser: n, Max: n})
	v := e.issuer.Verifier(b, e.store)
	sse := hub.SSE()
	gql := graph.NewServer(e.store, graph.Options{Live: hub, Transports: []graphql.Transport{sse.Transport()}, RenderPerSubscriber: perSubscriber})
	h := auth.Middleware(v)(sse.Handler(gql))
	token := e.issuer.TokenFor(b, e.a)

	var task struct{ ID string }
	var tags []string
	for i := range 3 {
		var tag struct{ ID string }
		e.ok(&e.a, `mutation($n: String!) { createTag(input: {name: $n, color: "#abcdef"}) { id } }`, map[string]any{"n": fmt.Sprint("tag ", i)}, "createTag", &tag)
		tags = append(tags, tag.ID)
	}
	e.ok(&e.a, `mutation($tags: [ID!]) { createTask(input: {title: "benchmark", description: "a task as an app shows it", priority: HIGH, dueAt: "2031-01-01T10:00:00Z", tagIds: $tags}) { id } }`,
		map[string]any{"tags": tags}, "createTask", &task)

	var got atomic.Int64
	arrived := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"query": `subscription { taskEvents { kind id at cursor task { id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt } } } }`})
	ended := make(chan struct{}, n)
	for range n {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		w := &countingStream{header: http.Header{}, events: &got, n: int64(n), arrived: arrived}
		go func() { h.ServeHTTP(w, req); ended <- struct{}{} }()
	}
	b.Cleanup(func() {
		cancel()
		for range n {
			<-ended
		}
	})
	for deadline := time.Now().Add(60 * time.Second); hub.Open() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscriptions open after 60s", hub.Open(), n)
		}
	}

	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		e.ok(&e.a, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`, map[string]any{"id": task.ID, "t": fmt.Sprint("benchmark ", i)}, "updateTask", nil)
		for want := int64(i+1) * int64(n); got.Load() < want; {
			select {
			case <-arrived:
			case <-time.After(30 * time.Second):
				b.Fatalf("%d of %d deliveries after 30s", got.Load(), want)
			}
		}
	}
	b.StopTimer()
	deliveries := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/deliveries, "cpu-ns/delivery")
}

// countingStream is an event stream's response writer that counts its "next" events.
type countingStream struct {
	header  http.Header
	events  *atomic.Int64
	n       int64
	arrived chan struct{}
}

func (w *countingStream) Header() http.Header { return w.header }
func (w *countingStream) WriteHeader(int)     {}
func (w *countingStream) Flush()              {}

func (w *countingStream) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("event: next")) {
		if w.events.Add(1)%w.n == 0 {
			select {
			case w.arrived <- struct{}{}:
			default:
			}
		}
	}
	return len(p), nil
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
