package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// startReplica runs the built binary's serve on a free port and returns its base URL; it is
// stopped with SIGTERM when the test ends.
func startReplica(t *testing.T, bin string, vars ...string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"ADDR=127.0.0.1:0"}, vars...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	addr := make(chan string, 1)
	var logs testkit.SyncBuffer
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "serving" {
				addr <- line["addr"].(string)
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		base := "http://" + a
		waitFor(t, "readyz", 20*time.Second, func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return base
	case <-time.After(60 * time.Second):
		t.Fatalf("replica did not start: %s", logs.String())
	}
	return ""
}

// TestTwoReplicas: two serve processes on one database. Subscribers on replica 1 (a socket and
// an event stream) hear every change committed through replica 2, in commit order, and nothing
// of another user's. The latency from the mutation's response to the event's arrival is logged
// (the target: p99 at most 100 ms under light load); it is reported, not asserted.
func TestTwoReplicas(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	vars := []string{"DATABASE_URL=" + dbURL, "BETTER_AUTH_URL=" + iss.URL, "AUTH_JWKS_URL=" + iss.JWKSURL()}
	r1 := startReplica(t, bin, vars...)
	r2 := startReplica(t, bin, vars...)

	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	alice := auth.User{ID: "alice", Email: "alice@example.com", Name: "Alice"}
	alice.UUID = testkit.CreateUser(t, x, alice.ID, alice.Email, alice.Name)
	bob := auth.User{ID: "bob", Email: "bob@example.com", Name: "Bob"}
	bob.UUID = testkit.CreateUser(t, x, bob.ID, bob.Email, bob.Name)
	aTok, bTok := iss.TokenFor(t, alice), iss.TokenFor(t, bob)

	ws, _, err := dialWS(t, r1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.connect(aTok)
	ws.subscribe("t", `subscription { taskEvents { kind id task { title } } }`)
	sse := openSSE(t, r1, aTok, `subscription { taskEvents { kind id task { title } } }`)
	waitFor(t, "two subscriptions on replica 1", wait, func() bool {
		return metricValue(scrape(t, r1), "taskgraph_subscriptions_open") == "2"
	})

	// Light load: one mutation every 20 ms through replica 2, Bob's in between (never heard).
	const n = 200
	var ids []string
	var latencies []time.Duration
	for i := range n {
		if i%10 == 0 {
			mutateOK(t, r2, bTok, `mutation { createTask(input: {title: "bob"}) { id } }`, nil, "createTask")
		}
		id := idOf(t, mutateOK(t, r2, aTok, `mutation { createTask(input: {title: "alice"}) { id } }`, nil, "createTask"))
		answered := time.Now()
		ids = append(ids, id)
		m := ws.next("t", wait)
		latencies = append(latencies, time.Since(answered))
		if r := decodeResult(t, m.Payload); m.Type != "next" || !jsonContains(r.Data["taskEvents"], id) {
			t.Fatalf("event %d on replica 1: %s %s, want task %s", i, m.Type, m.Payload, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for range n {
		var ev taskEvent
		sseFeed(t, sse, "t").event(t, "taskEvents", &ev)
		if ev.Task == nil || ev.Task.Title != "alice" {
			t.Fatalf("SSE: %+v", ev)
		}
		got = append(got, ev.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatal("SSE events out of commit order")
	}
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("replica 2 mutation answered -> event on replica 1 (WebSocket), %d changes: p50 %s, p90 %s, p99 %s, max %s",
		n, p(0.5).Round(10*time.Microsecond), p(0.9).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), latencies[n-1].Round(10*time.Microsecond))
}

func jsonContains(raw json.RawMessage, s string) bool {
	var v struct{ ID string }
	return json.Unmarshal(raw, &v) == nil && v.ID == s
}
