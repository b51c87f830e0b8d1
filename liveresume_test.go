package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// A client whose socket drops resubscribes with the cursor of the last event it got (what the
// graphql-ws client's retryAttempts with the last cursor does) and gets exactly what it missed,
// then the rest; a made-up cursor is BAD_USER_INPUT. On the NOTIFY fallback (the shared cluster)
// and on logical replication (a private wal_level=logical cluster, where /readyz names it).
func TestLiveResumeNotify(t *testing.T) {
	resumeOverWebSocket(t, newLiveEnv(t, live.Config{}, nil))
}

func TestLiveResumeLogical(t *testing.T) {
	pg := testkit.StartLogicalPostgres(t)
	iss := testkit.NewIssuer(t, "EdDSA")
	a := newLiveAppOn(t, pg.NewDBURL(t), iss, live.Config{}, nil)
	testkit.WaitKeysLoaded(t, a.verifier)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	e := &liveEnv{t: t, a: a, iss: iss, srv: srv}

	resp, err := http.Get(srv.URL + "/readyz")
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
		return idOf(t, e.mutate(tok, fmt.Sprintf(`mutation { createTask(input: {title: %q}) { id } }`, title), nil, "createTask"))
	}
	type ev struct {
		ID     string `json:"id"`
		Cursor string `json:"cursor"`
	}
	next := func(w *wsClient, id string) ev {
		t.Helper()
		return nextEvent[ev](w, id, "taskEvents", wait)
	}

	ws := e.socket(tok)
	ws.subscribe("1", `subscription { taskEvents { id cursor } }`)
	e.waitOpen(1)
	first := create("one")
	got := next(ws, "1")
	if got.ID != first || got.Cursor == "" {
		t.Fatalf("first event %+v, want %s with a cursor", got, first)
	}
	_ = ws.c.CloseNow() // the connection drops
	e.waitOpen(0)
	missed := []string{create("two"), create("three")}

	again := e.socket(tok)
	again.subscribe("2", fmt.Sprintf(`subscription { taskEvents(after: %q) { id cursor } }`, got.Cursor))
	for i, id := range missed {
		if ev := next(again, "2"); ev.ID != id {
			t.Fatalf("resumed event %d: %s, want %s", i, ev.ID, id)
		}
	}
	later := create("four")
	if ev := next(again, "2"); ev.ID != later {
		t.Fatalf("after the missed events: %s, want %s", ev.ID, later)
	}

	again.subscribe("3", `subscription { taskEvents(after: "made-up") { id } }`)
	m := again.next("3", wait)
	if (m.Type != "next" && m.Type != "error") || !strings.Contains(string(m.Payload), `"code":"BAD_USER_INPUT"`) {
		t.Fatalf("a made-up cursor: %s %s, want BAD_USER_INPUT", m.Type, m.Payload)
	}
}
