package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// liveServer is graph.NewServer with the live transports of hub, as serve wires them.
func liveServer(t testing.TB, e *env, hub *live.Hub, opts graph.Options) *httptest.Server {
	t.Helper()
	v := e.issuer.Verifier(t, e.store)
	ws, sse := hub.Websocket(v, nil), hub.SSE()
	opts.Live = hub
	opts.Transports = []graphql.Transport{ws.Transport(), sse.Transport()}
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	gql := graph.NewServer(e.store, opts)
	socket, api := ws.Handler(gql), auth.Middleware(v)(sse.Handler(gql))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if live.IsUpgrade(r) {
			socket.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// newHub starts a hub on e's database; e's writes notify it when it runs the NOTIFY fallback.
func newHub(t testing.TB, e *env, cfg live.Config) *live.Hub {
	t.Helper()
	hub := live.NewHub(e.store, cfg, live.Hooks{}, slog.New(slog.NewTextHandler(e.logs, nil)))
	if err := hub.Start(context.Background(), e.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close(); testkit.WaitSlotsGone(t, e.x.DB) })
	e.store.LogicalFeed = hub.Feed().Kind == live.FeedLogical
	return hub
}

// rawSocket is a graphql-transport-ws client that keeps every frame as it arrived.
type rawSocket struct {
	c      *websocket.Conn
	frames chan []byte
}

func dialRaw(t testing.TB, base, token string) *rawSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	s := &rawSocket{c: c, frames: make(chan []byte, 10000)}
	s.send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	go func() {
		defer close(s.frames)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if !bytes.Contains(data, []byte(`"type":"ping"`)) {
				s.frames <- data
			}
		}
	}()
	select {
	case ack := <-s.frames:
		if !bytes.Contains(ack, []byte("connection_ack")) {
			t.Fatalf("after connection_init: %s", ack)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connection_ack within 10s")
	}
	return s
}

func (s *rawSocket) send(t testing.TB, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := s.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func (s *rawSocket) subscribe(t testing.TB, id string, req map[string]any) {
	t.Helper()
	s.send(t, map[string]any{"id": id, "type": "subscribe", "payload": req})
}

// rawSSE opens an event stream for req and sends each "next" event's data to the channel.
func rawSSE(t testing.TB, base, token string, req map[string]any) <-chan []byte {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %v %v", err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan []byte, 10000)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "next":
				out <- []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return out
}

// untilFence reads a stream's results up to the one that mentions fence, and returns them.
func untilFence(t testing.TB, name string, ch <-chan []byte, fence string) []string {
	t.Helper()
	var got []string
	for {
		select {
		case b, ok := <-ch:
			if !ok {
				t.Fatalf("%s ended after %d results: %q", name, len(got), got)
			}
			got = append(got, string(b))
			if bytes.Contains(b, []byte(fence)) {
				return got
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no fence within 10s after %q", name, got)
		}
	}
}

// socketStreams splits a socket's frames by operation id (its frames, whole: id and type
// included).
func socketStreams(s *rawSocket, ids []string) map[string]chan []byte {
	out := map[string]chan []byte{}
	for _, id := range ids {
		out[id] = make(chan []byte, 10000)
	}
	go func() {
		for f := range s.frames {
			var h struct{ ID string }
			_ = json.Unmarshal(f, &h)
			if c := out[h.ID]; c != nil {
				c <- f
			}
		}
		for _, c := range out {
			close(c)
		}
	}()
	return out
}

// TestSharedRenderIsByteForByte: the same subscriptions, of many document shapes, on a server
// that renders each event once per shape and on one that renders it per subscriber (as before
// issue 19), both fed by one hub: every WebSocket frame and every SSE event is the same, byte for
// byte, and the shared server executed each event once per shape, not once per subscriber.
func TestSharedRenderIsByteForByte(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hub := newHub(t, e, live.Config{PerUser: 100, SocketsPerUser: 100})
	var renders atomic.Int64
	shared := liveServer(t, e, hub, graph.Options{CountRender: func() { renders.Add(1) }})
	reference := liveServer(t, e, hub, graph.Options{RenderPerSubscriber: true})
	token := e.issuer.TokenFor(t, e.a)

	const taskFields = `id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt }`
	shapes := []map[string]any{
		{"query": `subscription { taskEvents { kind id at cursor task { ` + taskFields + ` } } }`},
		{"query": `subscription { tagEvents { kind id at cursor tag { id name color createdAt } } }`},
		// Aliases, __typename, fragments, @include by a variable: the same document with two
		// values is two shapes.
		{"query": `subscription S($tags: Boolean!) { ev: taskEvents { __typename k: kind ...T } }
			fragment T on TaskEvent { when: at task { ... on Task { __typename t: title d: description p: priority due: dueAt tags @include(if: $tags) { n: name __typename } } } }`,
			"variables": map[string]any{"tags": true}},
		{"query": `subscription S($tags: Boolean!) { ev: taskEvents { __typename k: kind ...T } }
			fragment T on TaskEvent { when: at task { ... on Task { __typename t: title d: description p: priority due: dueAt tags @include(if: $tags) { n: name __typename } } } }`,
			"variables": map[string]any{"tags": false}},
		// Two operations in one document, one named.
		{"query": `subscription A { tagEvents { id } } subscription B { tagEvents { kind tag { name color } __typename } }`, "operationName": "B"},
	}

	type stream struct {
		name string
		ch   <-chan []byte
	}
	// Per server: each shape on two sockets and one event stream.
	open := func(base string) [][]stream {
		var ids []string
		for i := range shapes {
			ids = append(ids, fmt.Sprint(i))
		}
		a, b := dialRaw(t, base, token), dialRaw(t, base, token)
		as, bs := socketStreams(a, ids), socketStreams(b, ids)
		out := make([][]stream, len(shapes))
		for i, req := range shapes {
			a.subscribe(t, ids[i], req)
			b.subscribe(t, ids[i], req)
			out[i] = []stream{{"ws-a", as[ids[i]]}, {"ws-b", bs[ids[i]]}, {"sse", rawSSE(t, base, token, req)}}
		}
		return out
	}
	sharedStreams, referenceStreams := open(shared.URL), open(reference.URL)
	testkit.WaitFor(t, "every subscription open", 5*time.Second, func() bool { return hub.Open() == 2*3*len(shapes) })

	// Every kind of change; nulls, an offset that must come out in UTC, tags in order.
	var tagA, tagB, task struct{ ID string }
	e.ok(&e.a, `mutation { createTag(input: {name: "b-tag", color: "#ABC"}) { id } }`, nil, "createTag", &tagA)
	e.ok(&e.a, `mutation { createTag(input: {name: "A-tag"}) { id } }`, nil, "createTag", &tagB)
	e.ok(&e.a, `mutation($tags: [ID!]) { createTask(input: {title: "t \"quoted\" <b>&</b> é", dueAt: "2031-01-01T10:00:00+02:00", tagIds: $tags}) { id } }`,
		map[string]any{"tags": []string{tagA.ID, tagB.ID}}, "createTask", &task)
	e.ok(&e.a, `mutation($id: ID!) { updateTask(id: $id, input: {description: "d\n", priority: URGENT, completed: true}) { id } }`, map[string]any{"id": task.ID}, "updateTask", nil)
	e.ok(&e.a, `mutation($id: ID!) { updateTag(id: $id, input: {name: "renamed", color: null}) { id } }`, map[string]any{"id": tagA.ID}, "updateTag", nil)
	e.ok(&e.a, `mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": tagB.ID}, "deleteTag", nil)
	// (A row deleted before the hub loads it gives no event before its DELETED: the task above
	// stays, for the checks below.)
	var gone struct{ ID string }
	e.ok(&e.a, `mutation { createTask(input: {title: "gone"}) { id } }`, nil, "createTask", &gone)
	e.ok(&e.a, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": gone.ID}, "deleteTask", nil)
	// Last on each topic: the fences (a task without tags is no tag event).
	e.ok(&e.a, `mutation { createTask(input: {title: "fence"}) { id } }`, nil, "createTask", nil)
	e.ok(&e.a, `mutation { createTag(input: {name: "fence"}) { id } }`, nil, "createTag", nil)

	events, results := 0, ""
	for i := range shapes {
		var first []string
		for j := range sharedStreams[i] {
			want := untilFence(t, fmt.Sprintf("reference %s, shape %d", referenceStreams[i][j].name, i), referenceStreams[i][j].ch, "fence")
			got := untilFence(t, fmt.Sprintf("shared %s, shape %d", sharedStreams[i][j].name, i), sharedStreams[i][j].ch, "fence")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("shape %d on %s:\nshared:    %q\nreference: %q", i, sharedStreams[i][j].name, got, want)
			}
			if first == nil {
				first = want
			}
		}
		if len(first) < 3 {
			t.Fatalf("shape %d: only %q", i, first)
		}
		events += len(first)
		results += strings.Join(first, "\n")
	}
	// What the comparison covers: nulls, a time given with an offset answered in UTC, escapes.
	for _, want := range []string{`"dueAt":"2031-01-01T08:00:00Z"`, `"task":null`, `"description":null`, `"__typename":"TaskEvent"`, `\u003cb\u003e`, `"tag":{"name":"renamed","color":null}`} {
		if !strings.Contains(results, want) {
			t.Errorf("no %s in the results", want)
		}
	}
	if got := renders.Load(); got != int64(events) {
		t.Errorf("%d executions for %d events of %d shapes on 3 subscribers each; want one per event and shape", got, events, len(shapes))
	}
}
