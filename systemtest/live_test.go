package systemtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// The live-updates contract (issue 12), through the binary on a real PostgreSQL with real keys:
// WebSocket (graphql-transport-ws) and SSE.

type liveEnv struct {
	t   *testing.T
	srv *testkit.Server
	db  *sqlx.DB // the test's own connection to the server's database
	iss *testkit.Issuer
}

// liveVars are the settings every live test's serve has: CORS for a frontend on :3000, and
// /metrics on its address counting the tests' operations by name.
var liveVars = map[string]string{"CORS_ORIGINS": "http://localhost:3000", "METRICS_PUBLIC": "true", "METRICS_OPERATIONS": "Me,MyTasks"}

// newLiveEnv serves a fresh database with liveVars and extra (SUBSCRIPTIONS_PER_USER, say).
func newLiveEnv(t *testing.T, extra map[string]string) *liveEnv {
	t.Helper()
	return newLiveEnvOn(t, testkit.NewDBURL(t), extra)
}

// newLiveEnvOn is newLiveEnv on the database at dbURL.
func newLiveEnvOn(t *testing.T, dbURL string, extra map[string]string) *liveEnv {
	t.Helper()
	return newAppEnv(t, testkit.NewIssuer(t, "EdDSA"), dbURL, extra)
}

// newAppEnv is serve with liveVars and extra on dbURL, trusting iss: what the tests of a
// request's path need.
func newAppEnv(t *testing.T, iss *testkit.Issuer, dbURL string, extra map[string]string) *liveEnv {
	t.Helper()
	vars := serveVars(iss, dbURL, liveVars)
	for k, v := range extra {
		vars[k] = v
	}
	x := testkit.OpenDB(t, dbURL)
	// Cleanups run last first: the server stops, then its temporary replication slot (on the
	// logical feed) is waited out, since the database cannot be dropped while the slot is there.
	t.Cleanup(func() { testkit.WaitSlotsGone(t, x.DB) })
	return &liveEnv{t: t, srv: testkit.StartServe(t, bin, vars), db: x, iss: iss}
}

// serveOneUser runs serve (startServe) on a fresh database, for a test that stops it itself, with
// one user, id (email id@example.com): the server, the test's connection to its database, the user
// and a token for it.
func serveOneUser(t *testing.T, id string) (*testkit.Server, *sqlx.DB, auth.User, string) {
	t.Helper()
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	srv := startServe(t, iss, dbURL, nil)
	x := testkit.OpenDB(t, dbURL)
	u := auth.User{ID: id, Email: id + "@example.com", Name: strings.ToUpper(id)}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	return srv, x, u, iss.TokenFor(t, u)
}

func (e *liveEnv) user(name string) (auth.User, string) {
	e.t.Helper()
	return testkit.SignUp(e.t, e.db, e.iss, name)
}

// waitOpen waits until the server holds n subscriptions (its taskgraph_subscriptions_open): a
// subscription hears what is committed after it started, so a test mutates only once its
// subscribers are registered.
func (e *liveEnv) waitOpen(n int) {
	e.t.Helper()
	waitOpen(e.t, e.srv.Base, n)
}

// waitOpen waits until the server at base holds n subscriptions.
func waitOpen(t *testing.T, base string, n int) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%d open subscriptions", n), 10*time.Second, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, base), "taskgraph_subscriptions_open") == fmt.Sprint(n)
	})
}

func (e *liveEnv) socket(token string) *testkit.WSClient {
	e.t.Helper()
	return testkit.ConnectWS(e.t, e.srv.Base, token)
}

func (e *liveEnv) mutate(token, query string, vars map[string]any, field string) json.RawMessage {
	e.t.Helper()
	return testkit.MutateOK(e.t, e.srv.Base, token, query, vars, field)
}

// createHeard creates a task titled title as token's user and fails the test, saying what, unless
// f's next event is that task's.
func (e *liveEnv) createHeard(token, title string, f testkit.Feed, what string) {
	e.t.Helper()
	id := testkit.IDOf(e.t, e.mutate(token, `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": title}, "createTask"))
	var ev testkit.TaskEvent
	if f.Event(e.t, "taskEvents", &ev); ev.ID != id {
		e.t.Fatalf("%s: %+v", what, ev)
	}
}

// wait is how long a test waits for the server to do what it asked.
const wait = 10 * time.Second

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestLiveIsolationEveryMutationEveryField: three users, each subscribed to both fields on both
// transports with every field selected, run every mutation interleaved with the others. Each
// stream gets exactly its user's events, in order, with the committed rows; no id of anyone else
// appears anywhere in a payload (task.tags included); failed mutations send nothing.
func TestLiveIsolationEveryMutationEveryField(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, nil)
	type person struct {
		name       string
		token      string
		tasks, tgs []testkit.Feed
		own        map[string]bool // every id this user owns
		ids        map[string]string
	}
	var people []*person
	for _, name := range []string{"alice", "bob", "carol"} {
		u, tok := e.user(name)
		p := &person{name: name, token: tok, own: map[string]bool{u.UUID.String(): true}, ids: map[string]string{}}
		ws := e.socket(tok)
		ws.Subscribe("t", testkit.TaskEventsQuery)
		ws.Subscribe("g", testkit.TagEventsQuery)
		p.tasks = []testkit.Feed{testkit.WSFeed(t, ws, "t"), testkit.SSEFeed(t, testkit.OpenSSE(t, e.srv.Base, tok, testkit.TaskEventsQuery), "taskEvents")}
		p.tgs = []testkit.Feed{testkit.WSFeed(t, ws, "g"), testkit.SSEFeed(t, testkit.OpenSSE(t, e.srv.Base, tok, testkit.TagEventsQuery), "tagEvents")}
		people = append(people, p)
	}
	e.waitOpen(12)

	const taskFields = `id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt }`
	// checkEvent reads one event on each of feeds and compares it with want (the mutation's own
	// answer, or nil for DELETED); an id of another user anywhere in it fails the test.
	checkEvent := func(p *person, feeds []testkit.Feed, field, kind, id string, want json.RawMessage) {
		t.Helper()
		for _, f := range feeds {
			var ev struct {
				Kind string
				ID   string
				At   time.Time
				Task json.RawMessage // taskEvents
				Tag  json.RawMessage // tagEvents
			}
			raw := f.Event(t, field, &ev)
			if ev.Kind != kind || ev.ID != id {
				t.Fatalf("%s %s: %s %s, want %s %s", p.name, f.Name, ev.Kind, ev.ID, kind, id)
			}
			got := ev.Task
			if field == "tagEvents" {
				got = ev.Tag
			}
			if want == nil && string(got) != "null" || want != nil && !jsonEqual(got, want) {
				t.Fatalf("%s %s: %s %s, want %s", p.name, f.Name, field, got, want)
			}
			for _, x := range uuidRE.FindAllString(raw, -1) {
				if !p.own[x] {
					t.Fatalf("%s %s: a foreign id %s in %s", p.name, f.Name, x, raw)
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
		p.own[testkit.IDOf(t, raw)] = true
		return raw
	}
	// Each step runs for every user before any event is read, so the users' commits interleave.
	steps := []func(p *person){
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!) { createTag(input: {name: $n, color: "#f00"}) { id name color createdAt } }`, map[string]any{"n": p.name + "-a"}, "createTag")
			p.ids["a"] = testkit.IDOf(t, raw)
			checkTag(p, "CREATED", p.ids["a"], raw)
		},
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!) { createTag(input: {name: $n}) { id name color createdAt } }`, map[string]any{"n": p.name + "-b"}, "createTag")
			p.ids["b"] = testkit.IDOf(t, raw)
			checkTag(p, "CREATED", p.ids["b"], raw)
		},
		func(p *person) {
			raw := tagOp(p, `mutation($n: String!, $a: ID!) { createTask(input: {title: $n, description: "private", priority: HIGH, dueAt: "2031-01-01T10:00:00+02:00", tagIds: [$a]}) { `+taskFields+` } }`,
				map[string]any{"n": p.name + " task 1", "a": p.ids["a"]}, "createTask")
			p.ids["t1"] = testkit.IDOf(t, raw)
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
			p.ids["t2"] = testkit.IDOf(t, raw)
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
			if status, out := testkit.PostGraphQL(t, e.srv.Base+"/graphql", p.token, injectVars(q.query, q.vars)); status != 200 || out["errors"] == nil {
				t.Fatalf("%s: %s succeeded: %v", p.name, q.query, out)
			}
		}
	}
	for _, p := range people {
		raw := tagOp(p, `mutation { createTag(input: {name: "fence"}) { id name color createdAt } }`, nil, "createTag")
		checkTag(p, "CREATED", testkit.IDOf(t, raw), raw)
		raw = tagOp(p, `mutation { createTask(input: {title: "fence"}) { `+taskFields+` } }`, nil, "createTask")
		checkTask(p, "CREATED", testkit.IDOf(t, raw), raw)
	}
	m := testkit.Scrape(t, e.srv.Base)
	if got := testkit.MetricValue(m, "taskgraph_subscriptions_open"); got != "12" {
		t.Errorf("taskgraph_subscriptions_open = %q, want 12", got)
	}
	// Per user: 5 tag events and 6 task events, on 2 feeds each.
	if got := testkit.MetricValue(m, "taskgraph_subscription_events_delivered_total"); got != fmt.Sprint(3*2*(5+6)) {
		t.Errorf("events delivered = %q, want %d", got, 3*2*(5+6))
	}
	// Each user's WebSocket and event stream send the same document: one execution for both.
	if got := testkit.MetricValue(m, "taskgraph_subscription_events_rendered_total"); got != fmt.Sprint(3*(5+6)) {
		t.Errorf("events rendered = %q, want %d (one per event, for both transports)", got, 3*(5+6))
	}
}

// injectVars inlines variables as a JSON "variables" object for testkit.PostGraphQL, which sends a
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
	e := newLiveEnv(t, nil)
	const n = 40
	type person struct {
		token string
		feeds []testkit.Feed
		ids   []string
	}
	var people []*person
	for _, name := range []string{"alice", "bob", "carol"} {
		_, tok := e.user(name)
		ws := e.socket(tok)
		ws.Subscribe("t", testkit.TaskEventsQuery)
		people = append(people, &person{token: tok, feeds: []testkit.Feed{testkit.WSFeed(t, ws, "t"), testkit.SSEFeed(t, testkit.OpenSSE(t, e.srv.Base, tok, testkit.TaskEventsQuery), "t")}})
	}
	e.waitOpen(6)
	errs := make(chan error, len(people))
	for _, p := range people {
		go func() {
			for i := range n {
				_, out := testkit.PostGraphQL(t, e.srv.Base+"/graphql", p.token, fmt.Sprintf(`mutation { createTask(input: {title: "t%02d"}) { id } }`, i))
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
				var ev testkit.TaskEvent
				f.Event(t, "taskEvents", &ev)
				if ev.Kind != "CREATED" || ev.At.Before(last) {
					t.Fatalf("user %d %s: %+v after %v", pi, f.Name, ev, last)
				}
				last = ev.At
				got = append(got, ev.ID)
			}
			if !slices.Equal(got, p.ids) {
				t.Fatalf("user %d %s: events in order\n%v\nwant commit order\n%v", pi, f.Name, got, p.ids)
			}
		}
	}
}

// TestLiveWebSocketRefusesEachTokenClass: every way a token is refused on HTTP closes the socket
// with 4403 and the same reason, counted in the same metric; so does a missing token.
func TestLiveWebSocketRefusesEachTokenClass(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, nil)
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
	closeOf := func(ws *testkit.WSClient) (int, string) {
		ce := ws.WaitClose(wait)
		return int(ce.Code), ce.Reason
	}
	for _, tc := range cases {
		// The same token on HTTP: the reason the socket must close with.
		status, out := testkit.PostGraphQL(t, e.srv.Base+"/graphql", tc.token, `{ me { id } }`)
		if status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(out), "reason:"+tc.reason) {
			t.Fatalf("%s: HTTP %d %v, want 401 %s", tc.name, status, out, tc.reason)
		}
		ws, _, err := testkit.DialWS(t, e.srv.Base, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.Init(map[string]any{"Authorization": "Bearer " + tc.token})
		if code, reason := closeOf(ws); code != 4403 || reason != tc.reason {
			t.Errorf("%s in connection_init: closed %d %q, want 4403 %q", tc.name, code, reason, tc.reason)
		}
		// In the upgrade request's header instead: the same.
		ws, resp, err := testkit.DialWS(t, e.srv.Base, http.Header{"Authorization": {"Bearer " + tc.token}})
		if err != nil {
			t.Fatalf("%s in the upgrade header: %v (status %v), want an upgrade then 4403", tc.name, err, resp)
		}
		ws.Init(nil)
		if code, reason := closeOf(ws); code != 4403 || reason != tc.reason {
			t.Errorf("%s in the upgrade header: closed %d %q, want 4403 %q", tc.name, code, reason, tc.reason)
		}
	}
	for name, payload := range map[string]map[string]any{
		"no payload":            nil,
		"payload without token": {"foo": "bar"},
	} {
		ws, _, _ := testkit.DialWS(t, e.srv.Base, nil)
		ws.Init(payload)
		if code, reason := closeOf(ws); code != 4403 || reason != auth.ReasonMissingToken {
			t.Errorf("%s: closed %d %q, want 4403 missing_token", name, code, reason)
		}
	}
	// A lower-case key works; a token both in the header and in connection_init is refused.
	ws, _, _ := testkit.DialWS(t, e.srv.Base, nil)
	ws.Init(map[string]any{"authorization": "Bearer " + good})
	if m := ws.Next("", wait); m.Type != "connection_ack" {
		t.Fatalf("lower-case authorization: %+v", m)
	}
	ws, _, _ = testkit.DialWS(t, e.srv.Base, http.Header{"Authorization": {"Bearer " + good}})
	ws.Init(nil)
	if m := ws.Next("", wait); m.Type != "connection_ack" {
		t.Fatalf("token in the upgrade header: %+v", m)
	}
	ws, _, _ = testkit.DialWS(t, e.srv.Base, http.Header{"Authorization": {"Bearer " + good}})
	ws.Init(map[string]any{"Authorization": "Bearer " + good})
	if code, reason := closeOf(ws); code != 4403 || reason != auth.ReasonMalformedToken {
		t.Errorf("token twice: closed %d %q, want 4403 malformed_token", code, reason)
	}

	m := testkit.Scrape(t, e.srv.Base)
	for _, tc := range cases {
		// Once on HTTP, twice on the socket.
		if got := testkit.MetricValue(m, `taskgraph_auth_failures_total{reason="`+tc.reason+`"}`); got != fmt.Sprint(3*count(cases, tc.reason)) {
			t.Errorf("auth failures %s = %q, want %d", tc.reason, got, 3*count(cases, tc.reason))
		}
	}
	if got := testkit.MetricValue(m, `taskgraph_auth_failures_total{reason="missing_token"}`); got != "2" {
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
	dbURL := testkit.NewDBURL(t)
	srv := testkit.StartServing(t, bin, serveVars(iss, dbURL, liveVars))
	u := auth.User{ID: "s", Email: "s@example.com", UUID: testkit.CreateUser(t, testkit.OpenDB(t, dbURL), "s", "s@example.com", "S")}
	ws, _, err := testkit.DialWS(t, srv.Base, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Init(map[string]any{"Authorization": "Bearer " + iss.TokenFor(t, u)})
	if ce := ws.WaitClose(wait); ce.Code != 1013 || ce.Reason != "auth_unavailable" {
		t.Fatalf("closed %d %q, want 1013 auth_unavailable", ce.Code, ce.Reason)
	}
}

// TestLiveTokenExpiryEndsConnections: at the token's exp plus AUTH_CLOCK_SKEW, a socket closes
// with 4403 token_expired and an SSE subscription ends with a token_expired error event.
func TestLiveTokenExpiryEndsConnections(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, map[string]string{"AUTH_CLOCK_SKEW": "1s"})
	u, long := e.user("alice")
	claims := e.iss.Claims(u)
	claims["exp"] = time.Now().Add(2 * time.Second).Unix()
	short := e.iss.Sign(t, claims, nil)

	ws := e.socket(short)
	ws.Subscribe("t", testkit.TaskEventsQuery)
	sse := testkit.OpenSSE(t, e.srv.Base, short, testkit.TaskEventsQuery)
	e.waitOpen(2)
	raw := e.mutate(long, `mutation { createTask(input: {title: "before expiry"}) { id } }`, nil, "createTask")
	id := testkit.IDOf(t, raw)
	for _, f := range []testkit.Feed{testkit.WSFeed(t, ws, "t"), testkit.SSEFeed(t, sse, "t")} {
		var ev testkit.TaskEvent
		if f.Event(t, "taskEvents", &ev); ev.ID != id {
			t.Fatalf("%s: %+v before expiry", f.Name, ev)
		}
	}
	if ce := ws.WaitClose(wait); ce.Code != 4403 || ce.Reason != auth.ReasonTokenExpired {
		t.Fatalf("socket closed %d %q, want 4403 token_expired", ce.Code, ce.Reason)
	}
	if time.Now().Unix() < claims["exp"].(int64) {
		t.Fatal("closed before exp")
	}
	testkit.SSEFeed(t, sse, "t").Ends(t, "UNAUTHENTICATED", auth.ReasonTokenExpired)
	e.waitOpen(0)
}

// TestLiveOriginAndSubprotocol: an upgrade from an Origin CORS_ORIGINS does not allow is refused
// with 403; an allowed one, the server's own or none is served; a client not offering graphql-transport-ws gets 4406.
func TestLiveOriginAndSubprotocol(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, nil)
	_, tok := e.user("alice")
	// The server's own origin (its GraphiQL) needs no CORS_ORIGINS entry; a look-alike does.
	own := e.srv.Base
	for origin, want := range map[string]int{"https://evil.example": 403, "http://localhost:3000": 101, "": 101, own: 101,
		strings.Replace(own, "127.0.0.1", "127.0.0.1.evil.example", 1): 403} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := testkit.DialWS(t, e.srv.Base, h)
		switch {
		case want == 403:
			if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Errorf("Origin %s: %v %v, want HTTP 403", origin, err, resp)
			}
		case err != nil:
			t.Errorf("Origin %q: %v", origin, err)
		default:
			ws.Connect(tok)
		}
	}
	c, _, err := testkit.DialWSNoSubprotocol(e.srv.Base)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := testkit.ReadClose(c); code != 4406 {
		t.Fatalf("no subprotocol: closed %d %q, want 4406", code, reason)
	}
	// A GET with another Upgrade is not a WebSocket: 400, nothing upgraded.
	req, _ := http.NewRequest(http.MethodGet, e.srv.Base+"/graphql", nil)
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
	e := newLiveEnv(t, map[string]string{"SUBSCRIPTIONS_PER_USER": "2", "SUBSCRIPTIONS_MAX": "3"})
	_, alice := e.user("alice")
	_, bob := e.user("bob")
	_, carol := e.user("carol")
	wa := e.socket(alice)
	wa.Subscribe("1", testkit.TaskEventsQuery)
	wa.Subscribe("2", testkit.TagEventsQuery)
	e.waitOpen(2)
	wa.Subscribe("3", testkit.TaskEventsQuery)
	testkit.WSFeed(t, wa, "3").Ends(t, "TOO_MANY_SUBSCRIPTIONS", "")
	testkit.SSEFeed(t, testkit.OpenSSE(t, e.srv.Base, alice, testkit.TaskEventsQuery), "alice").Ends(t, "TOO_MANY_SUBSCRIPTIONS", "")

	wb := e.socket(bob)
	wb.Subscribe("1", testkit.TaskEventsQuery)
	e.waitOpen(3)
	wc := e.socket(carol)
	wc.Subscribe("1", testkit.TaskEventsQuery)
	testkit.WSFeed(t, wc, "1").Ends(t, "TOO_MANY_SUBSCRIPTIONS", "")

	// Alice stops one: Carol may now subscribe, and hears her own changes.
	if err := wa.Send(testkit.WSMessage{ID: "1", Type: "complete"}); err != nil {
		t.Fatal(err)
	}
	e.waitOpen(2)
	wc.Subscribe("2", testkit.TaskEventsQuery)
	e.waitOpen(3)
	e.createHeard(carol, "c", testkit.WSFeed(t, wc, "2"), "carol's event")
	if got := testkit.MetricValue(testkit.Scrape(t, e.srv.Base), "taskgraph_subscriptions_open"); got != "3" {
		t.Fatalf("taskgraph_subscriptions_open = %q, want 3", got)
	}
}

// TestLiveListenerKilled: the listener's connection is killed with pg_terminate_backend: every
// open subscription, on both transports, gets EVENTS_LOST and completes; the listener reconnects
// by itself; new subscriptions hear new changes.
func TestLiveListenerKilled(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, nil)
	_, tok := e.user("alice")
	ws := e.socket(tok)
	ws.Subscribe("t", testkit.TaskEventsQuery)
	ws.Subscribe("g", testkit.TagEventsQuery)
	sse := testkit.OpenSSE(t, e.srv.Base, tok, testkit.TaskEventsQuery)
	e.waitOpen(3)

	var killed int
	const kill = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'taskgraph listener'`
	if err := e.db.Get(&killed, kill); err != nil || killed != 1 {
		t.Fatalf("pg_terminate_backend: %d listener connections, %v", killed, err)
	}
	for _, f := range []testkit.Feed{testkit.WSFeed(t, ws, "t"), testkit.WSFeed(t, ws, "g"), testkit.SSEFeed(t, sse, "t")} {
		f.Ends(t, "EVENTS_LOST", "")
	}
	e.waitOpen(0)
	testkit.WaitFor(t, "the listener to reconnect", wait, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, e.srv.Base), "taskgraph_events_listener_reconnects_total") == "1"
	})
	ws.Subscribe("t2", testkit.TaskEventsQuery)
	e.waitOpen(1)
	e.createHeard(tok, "after", testkit.WSFeed(t, ws, "t2"), "after the reconnect")
}

// TestLiveShutdownDeliversThenCloses: a change committed just before shutdown reaches every
// subscriber (300 events of one deleted tag); then sockets close with 1001, without completing
// their subscriptions (graphql-ws reconnects and subscribes again), and an SSE subscription ends
// with EVENTS_LOST; the process exits 0.
func TestLiveShutdownDeliversThenCloses(t *testing.T) {
	t.Parallel()
	srv, x, u, tok := serveOneUser(t, "s")
	base := srv.Base
	const n = 300
	tag := testkit.InsertTaggedTasks(t, x, db.AppRole, u.UUID, n, 100)

	ws := testkit.ConnectWS(t, base, tok)
	ws.Subscribe("t", `subscription { taskEvents { kind id } }`)
	sse := testkit.OpenSSE(t, base, tok, `subscription { taskEvents { kind id } }`)
	testkit.WaitFor(t, "two subscriptions", wait, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, base), "taskgraph_subscriptions_open") == "2"
	})

	testkit.MutateOK(t, base, tok, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tag}, "deleteTag")
	srv.Terminate(t)

	for _, f := range []testkit.Feed{testkit.WSFeed(t, ws, "t"), testkit.SSEFeed(t, sse, "t")} {
		for i := range n {
			var ev testkit.TaskEvent
			if f.Event(t, "taskEvents", &ev); ev.Kind != "UPDATED" {
				t.Fatalf("%s event %d: %+v", f.Name, i, ev)
			}
		}
	}
	if ce := ws.WaitClose(wait); ce.Code != 1001 {
		t.Fatalf("socket closed %d %q, want 1001", ce.Code, ce.Reason)
	}
	if left := len(ws.Ch("t")); left != 0 {
		t.Fatalf("%d messages after the events (a complete?): %+v", left, <-ws.Ch("t"))
	}
	testkit.SSEFeed(t, sse, "t").Ends(t, "EVENTS_LOST", "")
	if code := srv.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

// The listener's connection is checked at start-up: an unreachable DATABASE_LISTEN_URL stops
// serve with a message naming it.
func TestServeNeedsItsListenerConnection(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	code, _, stderr := testkit.Run(t, bin, map[string]string{
		"ADDR": "127.0.0.1:0", "DATABASE_URL": testkit.NewDBURL(t), "BETTER_AUTH_URL": iss.URL,
		"DATABASE_LISTEN_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
	}, "serve")
	if code != 1 || !strings.Contains(stderr, "DATABASE_LISTEN_URL: cannot connect") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// A client accepting both JSON and event streams, JSON first (urql's queries), gets JSON; one
// preferring event streams gets one.
func TestLiveEventStreamOnlyWhenPreferred(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, nil)
	_, tok := e.user("alice")
	for accept, want := range map[string]string{
		"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed": "application/graphql-response+json",
		"text/event-stream": "text/event-stream",
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.Base+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
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
	e := newLiveEnv(t, nil)
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
		req, _ := http.NewRequest(c.method, e.srv.Base+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
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

// Behind a transaction-mode pooler (a real PgBouncer), the pool's writes still announce their
// changes (pg_notify is part of each transaction) and a listener on the direct connection,
// DATABASE_LISTEN_URL, hears them: the setup the README prescribes for a pooled DATABASE_URL.
func TestLiveThroughPgBouncerWithADirectListener(t *testing.T) {
	t.Parallel()
	direct := testkit.NewDBURL(t)
	pooled := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{}).URL(t, direct)
	iss := testkit.NewIssuer(t, "EdDSA")
	srv := startServe(t, iss, pooled, map[string]string{"DATABASE_LISTEN_URL": direct})
	// The test's own setup goes direct: lib/pq sends a statement with arguments outside a
	// transaction in two round trips, which a transaction pooler may give two server connections.
	u := auth.User{ID: "pooled", Email: "p@example.com", Name: "P"}
	directDB := testkit.OpenDB(t, direct)
	u.UUID = testkit.CreateUser(t, directDB, u.ID, u.Email, u.Name)
	tok := iss.TokenFor(t, u)

	ws := testkit.ConnectWS(t, srv.Base, tok)
	ws.Subscribe("t", testkit.TaskEventsQuery)
	waitOpen(t, srv.Base, 1)
	for i := range 5 { // several transactions, over the pooler's shared server connections
		id := testkit.IDOf(t, testkit.MutateOK(t, srv.Base, tok, fmt.Sprintf(`mutation { createTask(input: {title: "pooled %d"}) { id } }`, i), nil, "createTask"))
		if ev := ws.NextTaskEvent("t", wait); ev.ID != id || ev.Task == nil || ev.Task.Title != fmt.Sprintf("pooled %d", i) {
			t.Fatalf("event %d: %+v, want task %s", i, ev, id)
		}
	}
}
