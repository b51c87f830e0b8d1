package main

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// Live updates with settings no environment variable offers (the keep-alive interval, a
// subscriber's buffer): the real handler in this process. systemtest runs the rest against the
// binary.

type liveEnv struct {
	t   *testing.T
	a   *app
	iss *testkit.Issuer
	srv *httptest.Server
}

func newLiveEnv(t *testing.T, cfg live.Config) *liveEnv {
	t.Helper()
	iss := testkit.NewIssuer(t, "EdDSA")
	a := newLiveApp(t, iss, cfg)
	testkit.WaitKeysLoaded(t, a.verifier)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return &liveEnv{t: t, a: a, iss: iss, srv: srv}
}

func (e *liveEnv) user(name string) (auth.User, string) {
	e.t.Helper()
	return testkit.SignUp(e.t, e.a.db, e.iss, name)
}

// waitOpen waits until the hub holds n subscriptions.
func (e *liveEnv) waitOpen(n int) {
	e.t.Helper()
	testkit.WaitFor(e.t, fmt.Sprintf("%d open subscriptions", n), 10*time.Second, func() bool { return e.a.live.Open() == n })
}

const wait = 10 * time.Second

// TestLiveSlowConsumerIsDisconnected: a client that stops reading fills its socket, then its
// bounded buffer, and is disconnected; the same user's reading client gets every event; the
// dropped events are counted and nothing stays open.
func TestLiveSlowConsumerIsDisconnected(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{Buffer: 8})
	u, tok := e.user("alice")
	const n = 800 // 10 KB each: more than the sockets' buffers hold
	tag := testkit.InsertTaggedTasks(t, e.a.db, db.AppRole, u.UUID, n, 10000)

	stuck := testkit.DialStuck(t, e.srv.URL, tok) // subscribes, then never reads
	good := testkit.ConnectWS(t, e.srv.URL, tok)
	good.Subscribe("t", `subscription { taskEvents { kind id task { description } } }`)
	sse := testkit.OpenSSE(t, e.srv.URL, tok, `subscription { taskEvents { kind id } }`)
	e.waitOpen(3)
	testkit.MutateOK(t, e.srv.URL, tok, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag}, "deleteTag")

	for _, f := range []testkit.Feed{testkit.WSFeed(t, good, "t"), testkit.SSEFeed(t, sse, "t")} {
		seen := map[string]bool{}
		for range n {
			var ev testkit.TaskEvent
			f.Event(t, "taskEvents", &ev)
			if ev.Kind != "UPDATED" || seen[ev.ID] {
				t.Fatalf("%s: %+v", f.Name, ev)
			}
			seen[ev.ID] = true
		}
	}
	got, closedIn := stuck.Drain(t, 30*time.Second)
	if got >= n {
		t.Fatalf("the stuck client got all %d events: it was never cut off", got)
	}
	t.Logf("the stuck client had %d of %d events when it was cut off (%s after it started reading)", got, n, closedIn)
	e.waitOpen(2)
	m := testkit.Scrape(t, e.srv.URL)
	if v := testkit.MetricValue(m, "taskgraph_subscription_events_dropped_total"); v == "" || v == "0" {
		t.Fatalf("events dropped = %q, want > 0", v)
	}
}

// TestLiveKeepAlive: the server pings sockets and comments on event streams; a socket that does
// not answer its pings is dropped.
func TestLiveKeepAlive(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{KeepAlive: 200 * time.Millisecond})
	_, tok := e.user("alice")
	ws := testkit.ConnectWS(t, e.srv.URL, tok)
	ws.Subscribe("t", testkit.TaskEventsQuery)
	sse := testkit.OpenSSE(t, e.srv.URL, tok, testkit.TaskEventsQuery)
	deaf := testkit.ConnectWS(t, e.srv.URL, tok)
	deaf.NoPong.Store(true)
	deaf.Subscribe("t", testkit.TaskEventsQuery)
	testkit.WaitFor(t, "pings and comments", wait, func() bool { return ws.Pings.Load() >= 4 && sse.Comments.Load() >= 4 })
	if ce := deaf.WaitClose(wait); ce.Code == 4403 {
		t.Fatalf("deaf socket: %v", ce)
	}
	select {
	case <-ws.Done:
		t.Fatalf("the answering socket was closed too: %v", ws.CloseErr)
	default:
	}
	e.waitOpen(2)
}

// gqlgen's SSE keep-alive goroutine outlives its stream by a moment; a write of it after the
// handler has returned must not reach the finished response (it would panic the server). Many
// short streams with a 1 ms keep-alive hit that moment.
func TestLiveSSEEndsWithoutLateWrites(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{KeepAlive: time.Millisecond})
	_, tok := e.user("alice")
	for range 200 {
		s := testkit.OpenSSE(t, e.srv.URL, tok, testkit.TaskEventsQuery)
		time.Sleep(2 * time.Millisecond)
		s.Resp.Body.Close()
	}
	e.waitOpen(0)
}
