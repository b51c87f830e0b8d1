package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// The live-updates contract (issue 12), through the real handler on a real PostgreSQL with real
// keys: WebSocket (graphql-transport-ws) and SSE.

type liveEnv struct {
	t   *testing.T
	a   *app
	iss *testkit.Issuer
	srv *httptest.Server
}

func newLiveEnv(t *testing.T, cfg live.Config, authCfg func(*auth.Config)) *liveEnv {
	t.Helper()
	iss := testkit.NewIssuer(t, "EdDSA")
	a := newLiveApp(t, iss, cfg, authCfg)
	testkit.WaitKeysLoaded(t, a.verifier)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return &liveEnv{t: t, a: a, iss: iss, srv: srv}
}

func (e *liveEnv) user(name string) (auth.User, string) {
	e.t.Helper()
	u := auth.User{ID: "sub-" + name, Email: name + "@example.com", Name: name}
	u.UUID = testkit.CreateUser(e.t, e.a.db, u.ID, u.Email, u.Name)
	return u, e.iss.TokenFor(e.t, u)
}

// waitOpen waits until the hub holds n subscriptions: a subscription hears what is committed
// after it started, so a test mutates only once its subscribers are registered.
func (e *liveEnv) waitOpen(n int) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("%d open subscriptions", n), 10*time.Second, func() bool { return e.a.live.Open() == n })
}

func (e *liveEnv) socket(token string) *wsClient {
	e.t.Helper()
	ws, _, err := dialWS(e.t, e.srv.URL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ws.connect(token)
	return ws
}

func (e *liveEnv) mutate(token, query string, vars map[string]any, field string) json.RawMessage {
	e.t.Helper()
	return mutateOK(e.t, e.srv.URL, token, query, vars, field)
}

// feed is one subscription's stream on either transport: each call gives the next result, or
// complete.
type feed struct {
	name string
	next func(time.Duration) (payload json.RawMessage, complete bool)
}

func wsFeed(t testing.TB, w *wsClient, id string) feed {
	return feed{"ws " + id, func(d time.Duration) (json.RawMessage, bool) {
		t.Helper()
		m := w.next(id, d)
		switch m.Type {
		case "next":
			return m.Payload, false
		case "complete":
			return nil, true
		}
		t.Fatalf("ws %s: %s %s", id, m.Type, m.Payload)
		return nil, false
	}}
}

func sseFeed(t testing.TB, s *sseStream, name string) feed {
	return feed{"sse " + name, func(d time.Duration) (json.RawMessage, bool) {
		t.Helper()
		ev := s.next(d)
		switch ev.Event {
		case "next":
			return json.RawMessage(ev.Data), false
		case "complete":
			return nil, true
		}
		t.Fatalf("sse %s: event %q %s", name, ev.Event, ev.Data)
		return nil, false
	}}
}

const wait = 10 * time.Second

// event reads the next event of field ("taskEvents" or "tagEvents") into out and returns the
// raw payload.
func (f feed) event(t testing.TB, field string, out any) string {
	t.Helper()
	raw, complete := f.next(wait)
	if complete {
		t.Fatalf("%s: completed, want an event", f.name)
	}
	r := decodeResult(t, raw)
	if len(r.Errors) > 0 || json.Unmarshal(r.Data[field], out) != nil {
		t.Fatalf("%s: %s, want a %s event", f.name, raw, field)
	}
	return string(raw)
}

// ends expects a last result with an error of code (and reason, if not ""), then complete.
func (f feed) ends(t testing.TB, code, reason string) {
	t.Helper()
	raw, complete := f.next(wait)
	if complete {
		t.Fatalf("%s: completed without the %s error", f.name, code)
	}
	r := decodeResult(t, raw)
	if r.code() != code || (reason != "" && r.Errors[0].Extensions["reason"] != reason) {
		t.Fatalf("%s: %s, want an error %s %s", f.name, raw, code, reason)
	}
	if _, complete := f.next(wait); !complete {
		t.Fatalf("%s: not completed after the %s error", f.name, code)
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestLiveIsolationEveryMutationEveryField: three users, each subscribed to both fields on both
// transports with every field selected, run every mutation interleaved with the others. Each
// stream gets exactly its user's events, in order, with the committed rows; no id of anyone else
// appears anywhere in a payload (task.tags included); failed mutations send nothing.
func TestLiveIsolationEveryMutationEveryField(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	type person struct {
		name       string
		token      string
		tasks, tgs []feed
		own        map[string]bool // every id this user owns
		ids        map[string]string
	}
	var people []*person
	for _, name := range []string{"alice", "bob", "carol"} {
		u, tok := e.user(name)
		p := &person{name: name, token: tok, own: map[string]bool{u.UUID.String(): true}, ids: map[string]string{}}
		ws := e.socket(tok)
		ws.subscribe("t", taskEventsQuery)
		ws.subscribe("g", tagEventsQuery)
		p.tasks = []feed{wsFeed(t, ws, "t"), sseFeed(t, openSSE(t, e.srv.URL, tok, taskEventsQuery), "taskEvents")}
		p.tgs = []feed{wsFeed(t, ws, "g"), sseFeed(t, openSSE(t, e.srv.URL, tok, tagEventsQuery), "tagEvents")}
		people = append(people, p)
	}
	e.waitOpen(12)

	const taskFields = `id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt }`
	// checkEvent reads one event on each of feeds and compares it with want (the mutation's own
	// answer, or nil for DELETED); an id of another user anywhere in it fails the test.
	checkEvent := func(p *person, feeds []feed, field, kind, id string, want json.RawMessage) {
		t.Helper()
		for _, f := range feeds {
			var ev struct {
				Kind string
				ID   string
				At   time.Time
				Task json.RawMessage // taskEvents
				Tag  json.RawMessage // tagEvents
			}
			raw := f.event(t, field, &ev)
			if ev.Kind != kind || ev.ID != id {
				t.Fatalf("%s %s: %s %s, want %s %s", p.name, f.name, ev.Kind, ev.ID, kind, id)
			}
			got := ev.Task
			if field == "tagEvents" {
				got = ev.Tag
			}
			if want == nil && string(got) != "null" || want != nil && !jsonEqual(got, want) {
				t.Fatalf("%s %s: %s %s, want %s", p.name, f.name, field, got, want)
			}
			for _, x := range uuidRE.FindAllString(raw, -1) {
				if !p.own[x] {
					t.Fatalf("%s %s: a foreign id %s in %s", p.name, f.name, x, raw)
				}
			}
		}
	}
	checkTask := func(p *person, kind, id string, want json.RawMessage) {
		t.Helper()
		checkEvent(p, p.tasks, "taskEvents", kind, id, want)
	}
	checkTag := func(p *person, kind, id string, want json.RawMessage) {
		t.Helper()
		checkEvent(p, p.tgs, "tagEvents", kind, id, want)
	}
	tagOp := func(p *person, q string, vars map[string]any, field string) json.RawMessage {
		raw := e.mutate(p.token, q, vars, field)
		p.own[idOf(t, raw)] = true
		return raw
	}
	// Each step runs for every user before any event is read, so the users' commits interleave.
	steps := []func(p *person){
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!) { createTag(input: {name: $n, color: "#f00"}) { id name color createdAt } }`, map[string]any{"n": p.name + "-a"}, "createTag")
			p.ids["a"] = idOf(t, raw)
			checkTag(p, "CREATED", p.ids["a"], raw)
		},
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!) { createTag(input: {name: $n}) { id name color createdAt } }`, map[string]any{"n": p.name + "-b"}, "createTag")
			p.ids["b"] = idOf(t, raw)
			checkTag(p, "CREATED", p.ids["b"], raw)
		},
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!, $a: ID!) { createTask(input: {title: $n, description: "private", priority: HIGH, dueAt: "2031-01-01T10:00:00+02:00", tagIds: [$a]}) { `+taskFields+` } }`,
				map[string]any{"n": p.name + " task 1", "a": p.ids["a"]}, "createTask")
			p.ids["t1"] = idOf(t, raw)
			checkTask(p, "CREATED", p.ids["t1"], raw)
		},
		func(p *person) {
			raw := e.mutate(p.token, `mutation($id: ID!, $a: ID!, $b: ID!) { updateTask(id: $id, input: {title: "renamed", completed: true, priority: null, tagIds: [$a, $b]}) { `+taskFields+` } }`,
				map[string]any{"id": p.ids["t1"], "a": p.ids["a"], "b": p.ids["b"]}, "updateTask")
			checkTask(p, "UPDATED", p.ids["t1"], raw)
		},
		func(p *person) {
			raw := e.mutate(p.token, `mutation($id: ID!, $n: String!) { updateTag(id: $id, input: {name: $n, color: null}) { id name color createdAt } }`,
				map[string]any{"id": p.ids["a"], "n": p.name + "-a2"}, "updateTag")
			checkTag(p, "UPDATED", p.ids["a"], raw)
		},
		func(p *person) {
			raw := tagOp(p, `mutation { createTask(input: {title: "second"}) { `+taskFields+` } }`, nil, "createTask")
			p.ids["t2"] = idOf(t, raw)
			checkTask(p, "CREATED", p.ids["t2"], raw)
		},
		func(p *person) {
			e.mutate(p.token, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": p.ids["b"]}, "deleteTag")
			checkTag(p, "DELETED", p.ids["b"], nil)
			now := e.mutate(p.token, `query($id: ID!) { task(id: $id) { `+taskFields+` } }`, map[string]any{"id": p.ids["t1"]}, "task")
			checkTask(p, "UPDATED", p.ids["t1"], now) // the deleted tag left task 1
		},
		func(p *person) {
			e.mutate(p.token, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": p.ids["t2"]}, "deleteTask")
			checkTask(p, "DELETED", p.ids["t2"], nil)
		},
	}
	for _, step := range steps {
		for _, p := range people {
			step(p)
		}
	}

	// Refused and failing mutations, each against the next user's rows: nothing is sent to
	// anyone. A fence per user then proves it: its events are the next ones on every feed.
	for i, p := range people {
		other := people[(i+1)%len(people)]
		for _, q := range []struct {
			query string
			vars  map[string]any
		}{
			{`mutation($tag: ID!) { createTask(input: {title: "x", tagIds: [$tag]}) { id } }`, map[string]any{"tag": other.ids["a"]}},
			{`mutation($id: ID!) { updateTask(id: $id, input: {title: "hijack"}) { id } }`, map[string]any{"id": other.ids["t1"]}},
			{`mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": other.ids["t1"]}},
			{`mutation($id: ID!) { updateTag(id: $id, input: {name: "hijack"}) { id } }`, map[string]any{"id": other.ids["a"]}},
			{`mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": other.ids["a"]}},
			{`mutation($n: String!) { createTag(input: {name: $n}) { id } }`, map[string]any{"n": strings.ToUpper(p.name + "-a2")}}, // CONFLICT
			{`mutation($id: ID!, $tag: ID!) { updateTask(id: $id, input: {title: "x", tagIds: [$tag]}) { id } }`, map[string]any{"id": p.ids["t1"], "tag": other.ids["a"]}},
		} {
			if status, out := postGraphQL(t, e.srv.URL+"/graphql", p.token, injectVars(q.query, q.vars)); status != 200 || out["errors"] == nil {
				t.Fatalf("%s: %s succeeded: %v", p.name, q.query, out)
			}
		}
	}
	for _, p := range people {
		raw := tagOp(p, `mutation { createTag(input: {name: "fence"}) { id name color createdAt } }`, nil, "createTag")
		checkTag(p, "CREATED", idOf(t, raw), raw)
		raw = tagOp(p, `mutation { createTask(input: {title: "fence"}) { `+taskFields+` } }`, nil, "createTask")
		checkTask(p, "CREATED", idOf(t, raw), raw)
	}
	m := scrape(t, e.srv.URL)
	if got := metricValue(m, "taskgraph_subscriptions_open"); got != "12" {
		t.Errorf("taskgraph_subscriptions_open = %q, want 12", got)
	}
	// Per user: 5 tag events and 6 task events, on 2 feeds each.
	if got := metricValue(m, "taskgraph_subscription_events_delivered_total"); got != fmt.Sprint(3*2*(5+6)) {
		t.Errorf("events delivered = %q, want %d", got, 3*2*(5+6))
	}
	// Each user's WebSocket and event stream send the same document: one execution for both.
	if got := metricValue(m, "taskgraph_subscription_events_rendered_total"); got != fmt.Sprint(3*(5+6)) {
		t.Errorf("events rendered = %q, want %d (one per event, for both transports)", got, 3*(5+6))
	}
}

// injectVars inlines variables as a JSON "variables" object for postGraphQL, which sends a
// query only.
func injectVars(query string, vars map[string]any) string {
	for k, v := range vars {
		b, _ := json.Marshal(v)
		query = strings.ReplaceAll(query, "$"+k, string(b))
	}
	// drop the now empty variable definitions
	if i := strings.Index(query, "("); i > 0 && strings.HasPrefix(query, "mutation(") {
		j := strings.Index(query, ")")
		query = "mutation" + query[j+1:]
	}
	return query
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// TestLiveCommitOrderPerUser: three users create tasks as fast as they can, in parallel; each
// user's subscribers see that user's creations in commit order (each request waits for the
// previous one, so commit order is request order), on both transports.
func TestLiveCommitOrderPerUser(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	const n = 40
	type person struct {
		token string
		feeds []feed
		ids   []string
	}
	var people []*person
	for _, name := range []string{"alice", "bob", "carol"} {
		_, tok := e.user(name)
		ws := e.socket(tok)
		ws.subscribe("t", taskEventsQuery)
		people = append(people, &person{token: tok, feeds: []feed{wsFeed(t, ws, "t"), sseFeed(t, openSSE(t, e.srv.URL, tok, taskEventsQuery), "t")}})
	}
	e.waitOpen(6)
	errs := make(chan error, len(people))
	for _, p := range people {
		go func() {
			for i := range n {
				_, out := postGraphQL(t, e.srv.URL+"/graphql", p.token, fmt.Sprintf(`mutation { createTask(input: {title: "t%02d"}) { id } }`, i))
				data, _ := out["data"].(map[string]any)
				ct, _ := data["createTask"].(map[string]any)
				id, _ := ct["id"].(string)
				if id == "" {
					errs <- fmt.Errorf("createTask: %v", out)
					return
				}
				p.ids = append(p.ids, id)
			}
			errs <- nil
		}()
	}
	for range people {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for pi, p := range people {
		for _, f := range p.feeds {
			var got []string
			var last time.Time
			for range n {
				var ev taskEvent
				f.event(t, "taskEvents", &ev)
				if ev.Kind != "CREATED" || ev.At.Before(last) {
					t.Fatalf("user %d %s: %+v after %v", pi, f.name, ev, last)
				}
				last = ev.At
				got = append(got, ev.ID)
			}
			if !slices.Equal(got, p.ids) {
				t.Fatalf("user %d %s: events in order\n%v\nwant commit order\n%v", pi, f.name, got, p.ids)
			}
		}
	}
}

// TestLiveWebSocketRefusesEachTokenClass: every way a token is refused on HTTP closes the socket
// with 4403 and the same reason, counted in the same metric; so does a missing token.
func TestLiveWebSocketRefusesEachTokenClass(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	u, good := e.user("alice")
	now := time.Now()
	with := func(change func(jwt.MapClaims)) string {
		c := e.iss.Claims(u)
		change(c)
		return e.iss.Sign(t, c, nil)
	}
	parts := strings.Split(good, ".")
	stranger := testkit.NewKey(t, "EdDSA")
	cases := []struct {
		name, token, reason string
	}{
		{"malformed", "not-a-jwt", auth.ReasonMalformedToken},
		{"too large", with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 9<<10) }), auth.ReasonTokenTooLarge},
		{"algorithm not allowed", testkit.NewKey(t, "RS256").Sign(t, e.iss.Claims(u), nil), auth.ReasonAlgorithmNotAllowed},
		{"unknown key", stranger.Sign(t, e.iss.Claims(u), nil), auth.ReasonUnknownKey},
		{"invalid signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), auth.ReasonInvalidSignature},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), auth.ReasonTokenExpired},
		{"not yet valid", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), auth.ReasonTokenNotYetValid},
		{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), auth.ReasonInvalidIssuer},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "https://evil.example" }), auth.ReasonInvalidAudience},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), auth.ReasonMissingClaim},
		{"uuid not a UUID", with(func(c jwt.MapClaims) { c["uuid"] = "user-1" }), auth.ReasonInvalidClaim},
		{"unknown sub", with(func(c jwt.MapClaims) { delete(c, "uuid"); c["sub"] = "nobody" }), auth.ReasonUserNotFound},
	}
	closeOf := func(ws *wsClient) (int, string) {
		ce := ws.waitClose(wait)
		return int(ce.Code), ce.Reason
	}
	for _, tc := range cases {
		// The same token on HTTP: the reason the socket must close with.
		status, out := postGraphQL(t, e.srv.URL+"/graphql", tc.token, `{ me { id } }`)
		if status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(out), "reason:"+tc.reason) {
			t.Fatalf("%s: HTTP %d %v, want 401 %s", tc.name, status, out, tc.reason)
		}
		ws, _, err := dialWS(t, e.srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.init(map[string]any{"Authorization": "Bearer " + tc.token})
		if code, reason := closeOf(ws); code != 4403 || reason != tc.reason {
			t.Errorf("%s in connection_init: closed %d %q, want 4403 %q", tc.name, code, reason, tc.reason)
		}
		// In the upgrade request's header instead: the same.
		ws, resp, err := dialWS(t, e.srv.URL, http.Header{"Authorization": {"Bearer " + tc.token}})
		if err != nil {
			t.Fatalf("%s in the upgrade header: %v (status %v), want an upgrade then 4403", tc.name, err, resp)
		}
		ws.init(nil)
		if code, reason := closeOf(ws); code != 4403 || reason != tc.reason {
			t.Errorf("%s in the upgrade header: closed %d %q, want 4403 %q", tc.name, code, reason, tc.reason)
		}
	}
	for name, payload := range map[string]map[string]any{
		"no payload":            nil,
		"payload without token": {"foo": "bar"},
	} {
		ws, _, _ := dialWS(t, e.srv.URL, nil)
		ws.init(payload)
		if code, reason := closeOf(ws); code != 4403 || reason != auth.ReasonMissingToken {
			t.Errorf("%s: closed %d %q, want 4403 missing_token", name, code, reason)
		}
	}
	// A lower-case key works; a token both in the header and in connection_init is refused.
	ws, _, _ := dialWS(t, e.srv.URL, nil)
	ws.init(map[string]any{"authorization": "Bearer " + good})
	if m := ws.next("", wait); m.Type != "connection_ack" {
		t.Fatalf("lower-case authorization: %+v", m)
	}
	ws, _, _ = dialWS(t, e.srv.URL, http.Header{"Authorization": {"Bearer " + good}})
	ws.init(nil)
	if m := ws.next("", wait); m.Type != "connection_ack" {
		t.Fatalf("token in the upgrade header: %+v", m)
	}
	ws, _, _ = dialWS(t, e.srv.URL, http.Header{"Authorization": {"Bearer " + good}})
	ws.init(map[string]any{"Authorization": "Bearer " + good})
	if code, reason := closeOf(ws); code != 4403 || reason != auth.ReasonMalformedToken {
		t.Errorf("token twice: closed %d %q, want 4403 malformed_token", code, reason)
	}

	m := scrape(t, e.srv.URL)
	for _, tc := range cases {
		// Once on HTTP, twice on the socket.
		if got := metricValue(m, `taskgraph_auth_failures_total{reason="`+tc.reason+`"}`); got != fmt.Sprint(3*count(cases, tc.reason)) {
			t.Errorf("auth failures %s = %q, want %d", tc.reason, got, 3*count(cases, tc.reason))
		}
	}
	if got := metricValue(m, `taskgraph_auth_failures_total{reason="missing_token"}`); got != "2" {
		t.Errorf("auth failures missing_token = %q, want 2", got)
	}
}

func count[T any](cases []T, reason string) int {
	n := 0
	for _, c := range cases {
		if strings.Contains(fmt.Sprint(c), " "+reason+"}") {
			n++
		}
	}
	return n
}

// TestLiveWebSocketWithoutKeysClosesTryAgainLater: while no JWKS key was ever loaded (HTTP's
// 503 AUTH_UNAVAILABLE), a socket closes with 1013, which graphql-ws retries.
func TestLiveWebSocketWithoutKeysClosesTryAgainLater(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	iss.SetDown(true)
	a := newLiveApp(t, iss, live.Config{}, nil)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	u := auth.User{ID: "s", Email: "s@example.com", UUID: testkit.CreateUser(t, a.db, "s", "s@example.com", "S")}
	ws, _, err := dialWS(t, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.init(map[string]any{"Authorization": "Bearer " + iss.TokenFor(t, u)})
	if ce := ws.waitClose(wait); ce.Code != 1013 || ce.Reason != "auth_unavailable" {
		t.Fatalf("closed %d %q, want 1013 auth_unavailable", ce.Code, ce.Reason)
	}
}

// TestLiveTokenExpiryEndsConnections: at the token's exp plus AUTH_CLOCK_SKEW, a socket closes
// with 4403 token_expired and an SSE subscription ends with a token_expired error event.
func TestLiveTokenExpiryEndsConnections(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, func(c *auth.Config) { c.ClockSkew = time.Second })
	u, long := e.user("alice")
	claims := e.iss.Claims(u)
	claims["exp"] = time.Now().Add(2 * time.Second).Unix()
	short := e.iss.Sign(t, claims, nil)

	ws := e.socket(short)
	ws.subscribe("t", taskEventsQuery)
	sse := openSSE(t, e.srv.URL, short, taskEventsQuery)
	e.waitOpen(2)
	raw := e.mutate(long, `mutation { createTask(input: {title: "before expiry"}) { id } }`, nil, "createTask")
	id := idOf(t, raw)
	for _, f := range []feed{wsFeed(t, ws, "t"), sseFeed(t, sse, "t")} {
		var ev taskEvent
		if f.event(t, "taskEvents", &ev); ev.ID != id {
			t.Fatalf("%s: %+v before expiry", f.name, ev)
		}
	}
	if ce := ws.waitClose(wait); ce.Code != 4403 || ce.Reason != auth.ReasonTokenExpired {
		t.Fatalf("socket closed %d %q, want 4403 token_expired", ce.Code, ce.Reason)
	}
	if time.Now().Unix() < claims["exp"].(int64) {
		t.Fatal("closed before exp")
	}
	sseFeed(t, sse, "t").ends(t, "UNAUTHENTICATED", auth.ReasonTokenExpired)
	e.waitOpen(0)
}

// TestLiveOriginAndSubprotocol: an upgrade from an Origin CORS_ORIGINS does not allow is refused
// with 403; an allowed one, the server's own or none is served; a client not offering graphql-transport-ws gets 4406.
func TestLiveOriginAndSubprotocol(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	_, tok := e.user("alice")
	// The server's own origin (its GraphiQL) needs no CORS_ORIGINS entry; a look-alike does.
	own := e.srv.URL
	for origin, want := range map[string]int{"https://evil.example": 403, "http://localhost:3000": 101, "": 101, own: 101,
		strings.Replace(own, "127.0.0.1", "127.0.0.1.evil.example", 1): 403} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := dialWS(t, e.srv.URL, h)
		switch {
		case want == 403:
			if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Errorf("Origin %s: %v %v, want HTTP 403", origin, err, resp)
			}
		case err != nil:
			t.Errorf("Origin %q: %v", origin, err)
		default:
			ws.connect(tok)
		}
	}
	c, _, err := websocketDialNoSubprotocol(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := readClose(c); code != 4406 {
		t.Fatalf("no subprotocol: closed %d %q, want 4406", code, reason)
	}
	// A GET with another Upgrade is not a WebSocket: 400, nothing upgraded.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql", nil)
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("Connection", "Upgrade")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("Upgrade: h2c: %d, want 400", resp.StatusCode)
	}
}

// TestLiveLimits: SUBSCRIPTIONS_PER_USER and SUBSCRIPTIONS_MAX, on both transports; a closed
// subscription frees its place.
func TestLiveLimits(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{PerUser: 2, Max: 3}, nil)
	_, alice := e.user("alice")
	_, bob := e.user("bob")
	_, carol := e.user("carol")
	wa := e.socket(alice)
	wa.subscribe("1", taskEventsQuery)
	wa.subscribe("2", tagEventsQuery)
	e.waitOpen(2)
	wa.subscribe("3", taskEventsQuery)
	wsFeed(t, wa, "3").ends(t, "TOO_MANY_SUBSCRIPTIONS", "")
	sseFeed(t, openSSE(t, e.srv.URL, alice, taskEventsQuery), "alice").ends(t, "TOO_MANY_SUBSCRIPTIONS", "")

	wb := e.socket(bob)
	wb.subscribe("1", taskEventsQuery)
	e.waitOpen(3)
	wc := e.socket(carol)
	wc.subscribe("1", taskEventsQuery)
	wsFeed(t, wc, "1").ends(t, "TOO_MANY_SUBSCRIPTIONS", "")

	// Alice stops one: Carol may now subscribe, and hears her own changes.
	if err := wa.send(wsMessage{ID: "1", Type: "complete"}); err != nil {
		t.Fatal(err)
	}
	e.waitOpen(2)
	wc.subscribe("2", taskEventsQuery)
	e.waitOpen(3)
	id := idOf(t, e.mutate(carol, `mutation { createTask(input: {title: "c"}) { id } }`, nil, "createTask"))
	var ev taskEvent
	if wsFeed(t, wc, "2").event(t, "taskEvents", &ev); ev.ID != id {
		t.Fatalf("carol's event %+v", ev)
	}
	if got := metricValue(scrape(t, e.srv.URL), "taskgraph_subscriptions_open"); got != "3" {
		t.Fatalf("taskgraph_subscriptions_open = %q, want 3", got)
	}
}

// insertTaggedTasks writes n tasks carrying a new tag for user straight in SQL (no events), each
// with a description of descLen characters, and returns the tag's id.
func insertTaggedTasks(t *testing.T, x *sqlx.DB, user uuid.UUID, n, descLen int) string {
	t.Helper()
	ctx := context.Background()
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true)`, db.AppRole, user.String()); err != nil {
		t.Fatal(err)
	}
	var tag string
	if err := tx.GetContext(ctx, &tag, `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'bulk', now()) RETURNING id`, user); err != nil {
		t.Fatal(err)
	}
	const q = `WITH t AS (
			INSERT INTO tasks (user_uuid, title, description, created_at, updated_at)
			SELECT $1, 'bulk ' || i, repeat('x', $3), now(), now() FROM generate_series(1, $2) i RETURNING id)
		INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT $1, id, $4 FROM t`
	if _, err := tx.ExecContext(ctx, q, user, n, descLen, tag); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestLiveSlowConsumerIsDisconnected: a client that stops reading fills its socket, then its
// bounded buffer, and is disconnected; the same user's reading client gets every event; the
// dropped events are counted and nothing stays open.
func TestLiveSlowConsumerIsDisconnected(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{Buffer: 8}, nil)
	u, tok := e.user("alice")
	const n = 800 // 10 KB each: more than the sockets' buffers hold
	tag := insertTaggedTasks(t, e.a.db, u.UUID, n, 10000)

	stuck := dialStuck(t, e.srv.URL, tok) // subscribes, then never reads
	good := e.socket(tok)
	good.subscribe("t", `subscription { taskEvents { kind id task { description } } }`)
	sse := openSSE(t, e.srv.URL, tok, `subscription { taskEvents { kind id } }`)
	e.waitOpen(3)
	e.mutate(tok, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag}, "deleteTag")

	for _, f := range []feed{wsFeed(t, good, "t"), sseFeed(t, sse, "t")} {
		seen := map[string]bool{}
		for range n {
			var ev taskEvent
			f.event(t, "taskEvents", &ev)
			if ev.Kind != "UPDATED" || seen[ev.ID] {
				t.Fatalf("%s: %+v", f.name, ev)
			}
			seen[ev.ID] = true
		}
	}
	got, closedIn := stuck.drain(t, 30*time.Second)
	if got >= n {
		t.Fatalf("the stuck client got all %d events: it was never cut off", got)
	}
	t.Logf("the stuck client had %d of %d events when it was cut off (%s after it started reading)", got, n, closedIn)
	e.waitOpen(2)
	m := scrape(t, e.srv.URL)
	if v := metricValue(m, "taskgraph_subscription_events_dropped_total"); v == "" || v == "0" {
		t.Fatalf("events dropped = %q, want > 0", v)
	}
}

// TestLiveListenerKilled: the listener's connection is killed with pg_terminate_backend: every
// open subscription, on both transports, gets EVENTS_LOST and completes; the listener reconnects
// by itself; new subscriptions hear new changes.
func TestLiveListenerKilled(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	_, tok := e.user("alice")
	ws := e.socket(tok)
	ws.subscribe("t", taskEventsQuery)
	ws.subscribe("g", tagEventsQuery)
	sse := openSSE(t, e.srv.URL, tok, taskEventsQuery)
	e.waitOpen(3)

	var killed int
	const kill = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'taskgraph listener'`
	if err := e.a.db.Get(&killed, kill); err != nil || killed != 1 {
		t.Fatalf("pg_terminate_backend: %d listener connections, %v", killed, err)
	}
	for _, f := range []feed{wsFeed(t, ws, "t"), wsFeed(t, ws, "g"), sseFeed(t, sse, "t")} {
		f.ends(t, "EVENTS_LOST", "")
	}
	e.waitOpen(0)
	waitFor(t, "the listener to reconnect", wait, func() bool {
		return metricValue(scrape(t, e.srv.URL), "taskgraph_events_listener_reconnects_total") == "1"
	})
	ws.subscribe("t2", taskEventsQuery)
	e.waitOpen(1)
	id := idOf(t, e.mutate(tok, `mutation { createTask(input: {title: "after"}) { id } }`, nil, "createTask"))
	var ev taskEvent
	if wsFeed(t, ws, "t2").event(t, "taskEvents", &ev); ev.ID != id {
		t.Fatalf("after the reconnect: %+v", ev)
	}
}

// TestLiveKeepAlive: the server pings sockets and comments on event streams; a socket that does
// not answer its pings is dropped.
func TestLiveKeepAlive(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{KeepAlive: 200 * time.Millisecond}, nil)
	_, tok := e.user("alice")
	ws := e.socket(tok)
	ws.subscribe("t", taskEventsQuery)
	sse := openSSE(t, e.srv.URL, tok, taskEventsQuery)
	deaf := e.socket(tok)
	deaf.noPong.Store(true)
	deaf.subscribe("t", taskEventsQuery)
	waitFor(t, "pings and comments", wait, func() bool { return ws.pings.Load() >= 4 && sse.comments.Load() >= 4 })
	if ce := deaf.waitClose(wait); ce.Code == 4403 {
		t.Fatalf("deaf socket: %v", ce)
	}
	select {
	case <-ws.done:
		t.Fatalf("the answering socket was closed too: %v", ws.closeErr)
	default:
	}
	e.waitOpen(2)
}

// startServe runs `serve` in this process on a free port against a fresh database; cancel is
// what SIGTERM does. It returns the base URL and a channel with the exit code.
func startServe(t *testing.T, iss *testkit.Issuer, dbURL string, extra map[string]string) (string, context.CancelFunc, <-chan int) {
	t.Helper()
	vars := map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL(), "METRICS_PUBLIC": "true"}
	for k, v := range extra {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), io.Discard, &stderr) }()
	t.Cleanup(cancel)
	var addr string
	waitFor(t, "the serving log line", 30*time.Second, func() bool {
		addr, _ = servingLine(stderr.String())["addr"].(string)
		return addr != ""
	})
	base := "http://" + addr
	waitReady(t, base)
	return base, cancel, done
}

// TestLiveShutdownDeliversThenCloses: a change committed just before shutdown reaches every
// subscriber (300 events of one deleted tag); then sockets close with 1001, without completing
// their subscriptions (graphql-ws reconnects and subscribes again), and an SSE subscription ends
// with EVENTS_LOST; the process exits 0.
func TestLiveShutdownDeliversThenCloses(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	base, stop, done := startServe(t, iss, dbURL, nil)
	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	u := auth.User{ID: "s", Email: "s@example.com", Name: "S"}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	tok := iss.TokenFor(t, u)
	const n = 300
	tag := insertTaggedTasks(t, x, u.UUID, n, 100)

	ws, _, err := dialWS(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.connect(tok)
	ws.subscribe("t", `subscription { taskEvents { kind id } }`)
	sse := openSSE(t, base, tok, `subscription { taskEvents { kind id } }`)
	waitFor(t, "two subscriptions", wait, func() bool { return metricValue(scrape(t, base), "taskgraph_subscriptions_open") == "2" })

	mutateOK(t, base, tok, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag}, "deleteTag")
	stop()

	for _, f := range []feed{wsFeed(t, ws, "t"), sseFeed(t, sse, "t")} {
		for i := range n {
			var ev taskEvent
			if f.event(t, "taskEvents", &ev); ev.Kind != "UPDATED" {
				t.Fatalf("%s event %d: %+v", f.name, i, ev)
			}
		}
	}
	if ce := ws.waitClose(wait); ce.Code != 1001 {
		t.Fatalf("socket closed %d %q, want 1001", ce.Code, ce.Reason)
	}
	if left := len(ws.ch("t")); left != 0 {
		t.Fatalf("%d messages after the events (a complete?): %+v", left, <-ws.ch("t"))
	}
	sseFeed(t, sse, "t").ends(t, "EVENTS_LOST", "")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit")
	}
}

// The listener's connection is checked at start-up: an unreachable DATABASE_LISTEN_URL stops
// serve with a message naming it.
func TestServeNeedsItsListenerConnection(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	var stderr testkit.SyncBuffer
	code := run(context.Background(), []string{"serve"}, env(map[string]string{
		"ADDR": "127.0.0.1:0", "DATABASE_URL": testkit.NewDBURL(t), "BETTER_AUTH_URL": iss.URL,
		"DATABASE_LISTEN_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
	}), io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "DATABASE_LISTEN_URL: cannot connect") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// A client accepting both JSON and event streams, JSON first (urql's queries), gets JSON; one
// preferring event streams gets one.
func TestLiveEventStreamOnlyWhenPreferred(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	_, tok := e.user("alice")
	for accept, want := range map[string]string{
		"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed": "application/graphql-response+json",
		"text/event-stream": "text/event-stream",
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, want) {
			t.Errorf("Accept %q: Content-Type %q, want %s", accept, got, want)
		}
	}
}

// TestLiveSSESingleConnectionModeIsRefused: graphql-sse's single connection mode (a PUT that
// reserves a stream, then requests naming it) is answered at once with a reason, with or without
// a token, while distinct connections mode keeps working.
func TestLiveSSESingleConnectionModeIsRefused(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{}, nil)
	_, tok := e.user("alice")
	for _, c := range []struct {
		method, token, stream string
		status                int
	}{
		{http.MethodPut, "", "", http.StatusMethodNotAllowed},
		{http.MethodPut, tok, "", http.StatusMethodNotAllowed},
		{http.MethodGet, tok, "reservation", http.StatusBadRequest},
		{http.MethodPost, tok, "reservation", http.StatusBadRequest},
		{http.MethodPost, tok, "", http.StatusOK},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.stream != "" {
			req.Header.Set("X-GraphQL-Event-Stream-Token", c.stream)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s (token %v, stream %q): %d %s, want %d", c.method, c.token != "", c.stream, resp.StatusCode, body, c.status)
			continue
		}
		if c.status != http.StatusOK && (!strings.Contains(string(body), `"code":"BAD_REQUEST"`) || !strings.Contains(string(body), live.ReasonSingleConnection)) {
			t.Errorf("%s: %s does not carry BAD_REQUEST and the reason", c.method, body)
		}
	}
}

// gqlgen's SSE keep-alive goroutine outlives its stream by a moment; a write of it after the
// handler has returned must not reach the finished response (it would panic the server). Many
// short streams with a 1 ms keep-alive hit that moment.
func TestLiveSSEEndsWithoutLateWrites(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, live.Config{KeepAlive: time.Millisecond}, nil)
	_, tok := e.user("alice")
	for range 200 {
		s := openSSE(t, e.srv.URL, tok, taskEventsQuery)
		time.Sleep(2 * time.Millisecond)
		s.resp.Body.Close()
	}
	e.waitOpen(0)
}

// Behind a transaction-mode pooler (a real PgBouncer), the pool's writes still announce their
// changes (pg_notify is part of each transaction) and a listener on the direct connection,
// DATABASE_LISTEN_URL, hears them: the setup the README prescribes for a pooled DATABASE_URL.
func TestLiveThroughPgBouncerWithADirectListener(t *testing.T) {
	t.Parallel()
	direct := testkit.NewDBURL(t)
	pooled := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{}).URL(t, direct)
	dbx, err := sqlx.Open("postgres", pooled)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dbx.Close() })
	iss := testkit.NewIssuer(t, "EdDSA")
	m := newMetrics(dbx.DB)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &app{logger: logger, db: dbx, store: db.NewStore(dbx), metrics: m, cfg: serverConfig{ListenURL: direct, MetricsPublic: true},
		verifier: testkit.StartVerifier(t, iss.Config(), db.NewStore(dbx), m.authHooks())}
	a.live = live.NewHub(a.store, live.Config{}, m.liveHooks(), logger)
	if err := a.live.Start(context.Background(), direct); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.live.Close)
	testkit.WaitKeysLoaded(t, a.verifier)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	// The test's own setup goes direct: lib/pq sends a statement with arguments outside a
	// transaction in two round trips, which a transaction pooler may give two server connections.
	u := auth.User{ID: "pooled", Email: "p@example.com", Name: "P"}
	directDB, err := sqlx.Open("postgres", direct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = directDB.Close() })
	u.UUID = testkit.CreateUser(t, directDB, u.ID, u.Email, u.Name)
	tok := iss.TokenFor(t, u)

	ws, _, err := dialWS(t, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.connect(tok)
	ws.subscribe("t", taskEventsQuery)
	waitFor(t, "the subscription", wait, func() bool { return a.live.Open() == 1 })
	for i := range 5 { // several transactions, over the pooler's shared server connections
		id := idOf(t, mutateOK(t, srv.URL, tok, fmt.Sprintf(`mutation { createTask(input: {title: "pooled %d"}) { id } }`, i), nil, "createTask"))
		if ev := ws.nextTaskEvent("t", wait); ev.ID != id || ev.Task == nil || ev.Task.Title != fmt.Sprintf("pooled %d", i) {
			t.Fatalf("event %d: %+v, want task %s", i, ev, id)
		}
	}
}
