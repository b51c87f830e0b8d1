package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// startReplica runs the binary's serve with vars (KEY=value) on a free port and returns its base
// URL; it is stopped with SIGTERM when the test ends.
func startReplica(t *testing.T, vars ...string) string {
	t.Helper()
	m := map[string]string{"METRICS_PUBLIC": "true"}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return testkit.StartServe(t, bin, m).Base
}

// TestTwoReplicas: two serve processes on one database. Subscribers on replica 1 (a socket and
// an event stream) hear every change committed through replica 2, in commit order, and nothing
// of another user's. The latency from the mutation's response to the event's arrival is logged
// (the target: p99 at most 100 ms under light load); it is reported, not asserted.
func TestTwoReplicas(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	vars := []string{"DATABASE_URL=" + dbURL, "BETTER_AUTH_URL=" + iss.URL, "AUTH_JWKS_URL=" + iss.JWKSURL()}
	r1 := startReplica(t, vars...)
	r2 := startReplica(t, vars...)

	x := testkit.OpenDB(t, dbURL)
	alice := auth.User{ID: "alice", Email: "alice@example.com", Name: "Alice"}
	alice.UUID = testkit.CreateUser(t, x, alice.ID, alice.Email, alice.Name)
	bob := auth.User{ID: "bob", Email: "bob@example.com", Name: "Bob"}
	bob.UUID = testkit.CreateUser(t, x, bob.ID, bob.Email, bob.Name)
	aTok, bTok := iss.TokenFor(t, alice), iss.TokenFor(t, bob)

	ws := testkit.ConnectWS(t, r1, aTok)
	ws.Subscribe("t", `subscription { taskEvents { kind id task { title } } }`)
	sse := testkit.OpenSSE(t, r1, aTok, `subscription { taskEvents { kind id task { title } } }`)
	testkit.WaitFor(t, "two subscriptions on replica 1", wait, func() bool {
		return testkit.MetricValue(testkit.Scrape(t, r1), "taskgraph_subscriptions_open") == "2"
	})

	// Light load: one mutation every 20 ms through replica 2, Bob's in between (never heard).
	const n = 200
	var ids []string
	var latencies []time.Duration
	for i := range n {
		if i%10 == 0 {
			testkit.MutateOK(t, r2, bTok, `mutation { createTask(input: {title: "bob"}) { id } }`, nil, "createTask")
		}
		id := testkit.IDOf(t, testkit.MutateOK(t, r2, aTok, `mutation { createTask(input: {title: "alice"}) { id } }`, nil, "createTask"))
		answered := time.Now()
		ids = append(ids, id)
		m := ws.Next("t", wait)
		latencies = append(latencies, time.Since(answered))
		if r := testkit.DecodeResult(t, m.Payload); m.Type != "next" || !jsonContains(r.Data["taskEvents"], id) {
			t.Fatalf("event %d on replica 1: %s %s, want task %s", i, m.Type, m.Payload, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for range n {
		var ev testkit.TaskEvent
		testkit.SSEFeed(t, sse, "t").Event(t, "taskEvents", &ev)
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

// TestThreeReplicasThroughPgBouncer: three serve processes share one PgBouncer in transaction
// pooling mode with 4 server connections (DATABASE_URL), each listening on its own direct
// connection (DATABASE_LISTEN_URL). Six users' requests are spread round-robin over the replicas
// by 12 clients at once: every answer is the asking user's, what one replica wrote the others
// read back, a subscriber on each replica hears every change of its user made through any of
// them, and afterwards no server connection keeps a role or a user from the transactions it ran.
func TestThreeReplicasThroughPgBouncer(t *testing.T) {
	const poolSize = 4
	iss := testkit.NewIssuer(t, "EdDSA")
	direct := testkit.NewDBURL(t)
	pgb := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{PoolSize: poolSize})
	vars := []string{"DATABASE_URL=" + pgb.URL(t, direct), "DATABASE_LISTEN_URL=" + direct, "DATABASE_MAX_CONNS=6",
		"BETTER_AUTH_URL=" + iss.URL, "AUTH_JWKS_URL=" + iss.JWKSURL()}
	replicas := []string{startReplica(t, vars...), startReplica(t, vars...), startReplica(t, vars...)}

	x := testkit.OpenDB(t, direct)
	users := make([]string, 6) // tokens
	for i := range users {
		u := auth.User{ID: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i), Name: fmt.Sprintf("User %d", i)}
		u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
		users[i] = iss.TokenFor(t, u)
	}
	// User 0 subscribes on every replica.
	var subs []*testkit.WSClient
	for _, r := range replicas {
		ws := testkit.ConnectWS(t, r, users[0])
		ws.Subscribe("t", `subscription { taskEvents { kind id task { title } } }`)
		subs = append(subs, ws)
		testkit.WaitFor(t, "the subscription", wait, func() bool { return testkit.MetricValue(testkit.Scrape(t, r), "taskgraph_subscriptions_open") == "1" })
	}

	const clients, rounds = 12, 25
	created := make([][]string, clients) // ids each client created, in order
	g, ctx := errgroup.WithContext(context.Background())
	for c := range clients {
		g.Go(func() error {
			user := c % len(users)
			p := replicaClient{ctx: ctx, token: users[user]}
			for i := range rounds {
				write, read, list := replicas[(c+i)%3], replicas[(c+i+1)%3], replicas[(c+i+2)%3]
				title := fmt.Sprintf("u%d c%d #%d", user, c, i)
				id, err := p.createTask(write, title)
				if err != nil {
					return err
				}
				created[c] = append(created[c], id)
				if err := p.expectTask(read, id, title); err != nil {
					return err
				}
				if i%5 == 4 { // an update through a third replica, read back through the first
					title += " (edited)"
					if err := p.updateTask(list, id, title); err != nil {
						return err
					}
					if err := p.expectTask(write, id, title); err != nil {
						return err
					}
				}
				if err := p.expectOnlyOwn(list, fmt.Sprintf("u%d ", user), id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	// Each user's tasks, counted through each replica, are exactly the ones created for them.
	for user, token := range users {
		want := 0
		for c := range clients {
			if c%len(users) == user {
				want += len(created[c])
			}
		}
		for _, r := range replicas {
			var page struct{ TotalCount int }
			if err := json.Unmarshal(testkit.MutateOK(t, r, token, `{ tasks(first: 1) { totalCount } }`, nil, "tasks"), &page); err != nil || page.TotalCount != want {
				t.Fatalf("user %d through %s: totalCount %d (%v), want %d", user, r, page.TotalCount, err, want)
			}
		}
	}
	// Every subscriber of user 0 heard each of user 0's creates, whichever replica made them, and
	// nothing of anyone else's.
	var want []string
	for c := range clients {
		if c%len(users) == 0 {
			want = append(want, created[c]...)
		}
	}
	for r, ws := range subs {
		heard := map[string]bool{}
		for len(heard) < len(want) {
			ev := ws.NextTaskEvent("t", wait)
			if ev.Task == nil || !strings.HasPrefix(ev.Task.Title, "u0 ") {
				t.Fatalf("replica %d: event %+v is not user 0's", r, ev)
			}
			if ev.Kind == "CREATED" {
				heard[ev.ID] = true
			}
		}
		for _, id := range want {
			if !heard[id] {
				t.Fatalf("replica %d: no event for task %s", r, id)
			}
		}
	}

	// No server connection keeps what a transaction set, and there are only the pooler's.
	states := pgb.SessionStates(t, direct, poolSize)
	for _, st := range states {
		if st.Role != "none" || st.UserUUID != "" {
			t.Fatalf("server session %d keeps role %q and app.user_uuid %q after the run", st.PID, st.Role, st.UserUUID)
		}
	}
	t.Logf("%d clients × %d rounds over 3 replicas and %d server connections (%v): every answer its user's", clients, rounds, len(states), states)
}

// replicaClient sends one user's requests to whichever replica it is given, returning errors
// (it runs in its own goroutine, where a test may not fail itself).
type replicaClient struct {
	ctx   context.Context
	token string
}

func (p replicaClient) do(base, query string, vars map[string]any, field string, out any) error {
	r, err := testkit.PostOK(p.ctx, base, p.token, query, vars)
	if err != nil {
		return err
	}
	return json.Unmarshal(r.Data[field], out)
}

func (p replicaClient) createTask(base, title string) (string, error) {
	var task struct{ ID string }
	err := p.do(base, `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": title}, "createTask", &task)
	return task.ID, err
}

func (p replicaClient) updateTask(base, id, title string) error {
	var task struct{ Title string }
	if err := p.do(base, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { title } }`, map[string]any{"id": id, "t": title}, "updateTask", &task); err != nil {
		return err
	}
	if task.Title != title {
		return fmt.Errorf("updateTask via %s answered %q, want %q", base, task.Title, title)
	}
	return nil
}

func (p replicaClient) expectTask(base, id, title string) error {
	var task *struct{ Title string }
	if err := p.do(base, `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id}, "task", &task); err != nil {
		return err
	}
	if task == nil || task.Title != title {
		return fmt.Errorf("task %s via %s: %+v, want title %q", id, base, task, title)
	}
	return nil
}

// expectOnlyOwn lists the newest tasks: every one must carry the user's prefix, and the one just
// created must be among them.
func (p replicaClient) expectOnlyOwn(base, prefix, id string) error {
	var page struct {
		Edges []struct{ Node struct{ ID, Title string } }
	}
	if err := p.do(base, `{ tasks(first: 50) { edges { node { id title } } } }`, nil, "tasks", &page); err != nil {
		return err
	}
	found := false
	for _, e := range page.Edges {
		if !strings.HasPrefix(e.Node.Title, prefix) {
			return fmt.Errorf("via %s a %q user was shown %q", base, prefix, e.Node.Title)
		}
		found = found || e.Node.ID == id
	}
	if !found {
		return fmt.Errorf("via %s the newest 50 tasks lack %s, just created", base, id)
	}
	return nil
}
