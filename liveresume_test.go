package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"

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

// A mutation sent over a WebSocket that is still running when shutdown begins (SIGTERM) commits
// and is acknowledged after it: it still reaches its user's subscription before the socket closes
// with 1001.
func TestLiveShutdownWaitsForSocketMutations(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	base, stop, done := startServe(t, iss, dbURL, nil)
	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	u := auth.User{ID: "m", Email: "m@example.com", Name: "M"}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	tok := iss.TokenFor(t, u)

	sub, _, err := dialWS(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.connect(tok)
	sub.subscribe("t", `subscription { taskEvents { kind id } }`)
	waitFor(t, "the subscription", wait, func() bool { return metricValue(scrape(t, base), "taskgraph_subscriptions_open") == "1" })

	// Hold the mutation inside PostgreSQL until shutdown has begun.
	lock, err := x.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`LOCK TABLE tasks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	mut, _, err := dialWS(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	mut.connect(tok)
	mut.subscribe("m", `mutation { createTask(input: {title: "late"}) { id } }`)
	time.Sleep(200 * time.Millisecond)
	stop()
	time.Sleep(300 * time.Millisecond)
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	m := mut.next("m", wait)
	r := decodeResult(t, m.Payload)
	var created struct{ ID string }
	if m.Type != "next" || json.Unmarshal(r.Data["createTask"], &created) != nil || created.ID == "" {
		t.Fatalf("the mutation: %s %s", m.Type, m.Payload)
	}
	var ev taskEvent
	if wsFeed(t, sub, "t").event(t, "taskEvents", &ev); ev.ID != created.ID {
		t.Fatalf("event %+v, want the mutation's task %s", ev, created.ID)
	}
	if ce := sub.waitClose(wait); ce.Code != 1001 {
		t.Fatalf("socket closed %d %q, want 1001", ce.Code, ce.Reason)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit")
	}
}
