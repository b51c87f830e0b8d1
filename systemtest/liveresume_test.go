package systemtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// A client whose socket drops resubscribes with the cursor of the last event it got (what the
// graphql-ws client's retryAttempts with the last cursor does) and gets exactly what it missed,
// then the rest; a made-up cursor is BAD_USER_INPUT. On the NOTIFY fallback (the shared cluster)
// and on logical replication (a private wal_level=logical cluster, where /readyz names it).
func TestLiveResumeNotify(t *testing.T) {
	resumeOverWebSocket(t, newLiveEnv(t, nil))
}

func TestLiveResumeLogical(t *testing.T) {
	pg := testkit.StartLogicalPostgres(t)
	e := newLiveEnvOn(t, pg.NewDBURL(t), nil)

	resp, err := http.Get(e.srv.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || body["live"] != "logical" {
		t.Fatalf("readyz: %d %v, want 200 with live: logical", resp.StatusCode, body)
	}
	resumeOverWebSocket(t, e)
}

func resumeOverWebSocket(t *testing.T, e *liveEnv) {
	_, tok := e.user("resume")
	create := func(title string) string {
		return testkit.IDOf(t, e.mutate(tok, fmt.Sprintf(`mutation { createTask(input: {title: %q}) { id } }`, title), nil, "createTask"))
	}
	type ev struct {
		ID     string `json:"id"`
		Cursor string `json:"cursor"`
	}
	next := func(w *testkit.WSClient, id string) ev {
		t.Helper()
		return testkit.NextEvent[ev](w, id, "taskEvents", wait)
	}

	ws := e.socket(tok)
	ws.Subscribe("1", `subscription { taskEvents { id cursor } }`)
	e.waitOpen(1)
	first := create("one")
	got := next(ws, "1")
	if got.ID != first || got.Cursor == "" {
		t.Fatalf("first event %+v, want %s with a cursor", got, first)
	}
	_ = ws.Conn().CloseNow() // the connection drops
	e.waitOpen(0)
	missed := []string{create("two"), create("three")}

	again := e.socket(tok)
	again.Subscribe("2", fmt.Sprintf(`subscription { taskEvents(after: %q) { id cursor } }`, got.Cursor))
	for i, id := range missed {
		if ev := next(again, "2"); ev.ID != id {
			t.Fatalf("resumed event %d: %s, want %s", i, ev.ID, id)
		}
	}
	later := create("four")
	if ev := next(again, "2"); ev.ID != later {
		t.Fatalf("after the missed events: %s, want %s", ev.ID, later)
	}

	again.Subscribe("3", `subscription { taskEvents(after: "made-up") { id } }`)
	m := again.Next("3", wait)
	if (m.Type != "next" && m.Type != "error") || !strings.Contains(string(m.Payload), `"code":"BAD_USER_INPUT"`) {
		t.Fatalf("a made-up cursor: %s %s, want BAD_USER_INPUT", m.Type, m.Payload)
	}
}

// A mutation sent over a WebSocket that is still running when shutdown begins (SIGTERM) commits
// and is acknowledged after it: it still reaches its user's subscription before the socket closes
// with 1001.
func TestLiveShutdownWaitsForSocketMutations(t *testing.T) {
	t.Parallel()
	srv, x, _, tok := serveOneUser(t, "m")
	base := srv.Base

	sub := testkit.ConnectWS(t, base, tok)
	sub.Subscribe("t", `subscription { taskEvents { kind id } }`)
	testkit.WaitFor(t, "the subscription", wait, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, base), "taskgraph_subscriptions_open") == "1"
	})

	// Hold the mutation inside PostgreSQL until shutdown has begun.
	lock, err := x.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`LOCK TABLE tasks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	mut := testkit.ConnectWS(t, base, tok)
	mut.Subscribe("m", `mutation { createTask(input: {title: "late"}) { id } }`)
	time.Sleep(200 * time.Millisecond)
	srv.Terminate(t)
	time.Sleep(300 * time.Millisecond)
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	m := mut.Next("m", wait)
	r := testkit.DecodeResult(t, m.Payload)
	var created struct{ ID string }
	if m.Type != "next" || json.Unmarshal(r.Data["createTask"], &created) != nil || created.ID == "" {
		t.Fatalf("the mutation: %s %s", m.Type, m.Payload)
	}
	var ev testkit.TaskEvent
	if testkit.WSFeed(t, sub, "t").Event(t, "taskEvents", &ev); ev.ID != created.ID {
		t.Fatalf("event %+v, want the mutation's task %s", ev, created.ID)
	}
	if ce := sub.WaitClose(wait); ce.Code != 1001 {
		t.Fatalf("socket closed %d %q, want 1001", ce.Code, ce.Reason)
	}
	srv.Wait(t, 15*time.Second)
}
