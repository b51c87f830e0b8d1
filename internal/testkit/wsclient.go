package testkit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WSMessage is a graphql-transport-ws message.
type WSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WSClient speaks graphql-transport-ws as the graphql-ws client does, answering pings (unless
// noPong). Messages are sorted by operation id; connection_ack and the like have id "".
type WSClient struct {
	t      testing.TB
	c      *websocket.Conn
	NoPong atomic.Bool  // when set, pings go unanswered
	Pings  atomic.Int64 // pings received

	mu   sync.Mutex
	byID map[string]chan WSMessage
	// done is closed when the socket is; closeErr is its close status (code -1: none).
	Done     chan struct{}
	CloseErr websocket.CloseError
}

func (w *WSClient) Ch(id string) chan WSMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.byID[id]
	if c == nil {
		c = make(chan WSMessage, 100000)
		w.byID[id] = c
	}
	return c
}

// DialWS opens a socket to base (http://host:port) with the graphql-transport-ws subprotocol.
func DialWS(t testing.TB, base string, header http.Header) (*WSClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(64 << 20)
	w := &WSClient{t: t, c: c, byID: map[string]chan WSMessage{}, Done: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { _ = c.CloseNow() })
	return w, resp, nil
}

// ConnectWS dials base like DialWS and connects with token (connection_init, then its ack): a
// signed-in socket, or the test fails.
func ConnectWS(t testing.TB, base, token string) *WSClient {
	t.Helper()
	w, _, err := DialWS(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Connect(token)
	return w
}

func (w *WSClient) read() {
	for {
		_, data, err := w.c.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				ce = websocket.CloseError{Code: -1, Reason: err.Error()}
			}
			w.CloseErr = ce
			close(w.Done)
			return
		}
		var m WSMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.Type == "ping" {
			w.Pings.Add(1)
			if !w.NoPong.Load() {
				_ = w.Send(WSMessage{Type: "pong"})
			}
			continue
		}
		w.Ch(m.ID) <- m
	}
}

func (w *WSClient) Send(m WSMessage) error {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, b)
}

// init sends connection_init with payload (nil: none).
func (w *WSClient) Init(payload map[string]any) {
	w.t.Helper()
	m := WSMessage{Type: "connection_init"}
	if payload != nil {
		m.Payload, _ = json.Marshal(payload)
	}
	if err := w.Send(m); err != nil {
		w.t.Fatalf("connection_init: %v", err)
	}
}

// connect sends connection_init with the token and waits for connection_ack.
func (w *WSClient) Connect(token string) {
	w.t.Helper()
	w.Init(map[string]any{"Authorization": "Bearer " + token})
	if m := w.Next("", 5*time.Second); m.Type != "connection_ack" {
		w.t.Fatalf("after connection_init: %+v, want connection_ack", m)
	}
}

func (w *WSClient) Subscribe(id, query string) {
	w.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query})
	if err := w.Send(WSMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		w.t.Fatalf("subscribe: %v", err)
	}
}

// next is the next message of operation id, failing the test after timeout or when the socket
// closes first.
func (w *WSClient) Next(id string, timeout time.Duration) WSMessage {
	w.t.Helper()
	c := w.Ch(id)
	select {
	case m := <-c:
		return m
	default:
	}
	select {
	case m := <-c:
		return m
	case <-w.Done:
		select { // read() queues every message before it reports the close
		case m := <-c:
			return m
		default:
		}
		w.t.Fatalf("socket closed (%d %q) while waiting for a message of %q", w.CloseErr.Code, w.CloseErr.Reason, id)
	case <-time.After(timeout):
		w.t.Fatalf("no message of %q within %s", id, timeout)
	}
	return WSMessage{}
}

// waitClose returns the close status within timeout.
func (w *WSClient) WaitClose(timeout time.Duration) websocket.CloseError {
	w.t.Helper()
	select {
	case <-w.Done:
		return w.CloseErr
	case <-time.After(timeout):
		w.t.Fatalf("socket not closed within %s", timeout)
	}
	return websocket.CloseError{}
}

// TaskEvent and TagEvent are the events as a test selects them (every field).
type TaskEvent struct {
	Kind string    `json:"kind"`
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Task *struct {
		ID          string  `json:"id"`
		Title       string  `json:"title"`
		Description *string `json:"description"`
		Completed   bool    `json:"completed"`
		Priority    *string `json:"priority"`
		UpdatedAt   string  `json:"updatedAt"`
		Tags        []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"tags"`
	} `json:"task"`
}

type TagEvent struct {
	Kind string    `json:"kind"`
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Tag  *struct {
		ID    string  `json:"id"`
		Name  string  `json:"name"`
		Color *string `json:"color"`
	} `json:"tag"`
}

const (
	TaskEventsQuery = `subscription { taskEvents { kind id at task { id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt } } } }`
	TagEventsQuery  = `subscription { tagEvents { kind id at tag { id name color createdAt } } }`
)

// nextTaskEvent and nextTagEvent read the next message of subscription id as an event.
func (w *WSClient) NextTaskEvent(id string, timeout time.Duration) TaskEvent {
	w.t.Helper()
	return NextEvent[TaskEvent](w, id, "taskEvents", timeout)
}

func (w *WSClient) NextTagEvent(id string, timeout time.Duration) TagEvent {
	w.t.Helper()
	return NextEvent[TagEvent](w, id, "tagEvents", timeout)
}

// NextEvent reads the next message of subscription id as an event of field.
func NextEvent[E any](w *WSClient, id, field string, timeout time.Duration) E {
	w.t.Helper()
	m := w.Next(id, timeout)
	if m.Type != "next" {
		w.t.Fatalf("got %s %s, want next of %s", m.Type, m.Payload, id)
	}
	r := DecodeResult(w.t, m.Payload)
	var ev E
	if len(r.Errors) > 0 || json.Unmarshal(r.Data[field], &ev) != nil {
		w.t.Fatalf("%s event %s", field, m.Payload)
	}
	return ev
}

// DialWSNoSubprotocol opens a socket offering no subprotocol.
func DialWSNoSubprotocol(base string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", nil)
}

// ReadClose reads until the socket closes and returns its close status.
func ReadClose(c *websocket.Conn) (int, string) {
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return int(ce.Code), ce.Reason
			}
			return -1, err.Error()
		}
	}
}

// StuckClient subscribes to task events, then reads nothing until drain. (Its socket keeps the
// default buffers: a receive buffer shrunk below loopback's MSS stalls TCP itself.)
type StuckClient struct {
	c *websocket.Conn
}

func DialStuck(t *testing.T, base, token string) *StuckClient {
	t.Helper()
	s := &StuckClient{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	s.c = c
	t.Cleanup(func() { _ = c.CloseNow() })
	write := func(m WSMessage) {
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	payload, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	write(WSMessage{Type: "connection_init", Payload: payload})
	if _, data, err := c.Read(ctx); err != nil || !strings.Contains(string(data), "connection_ack") {
		t.Fatalf("stuck client: %s %v", data, err)
	}
	q, _ := json.Marshal(map[string]string{"query": `subscription { taskEvents { kind id task { description } } }`})
	write(WSMessage{ID: "s", Type: "subscribe", Payload: q})
	return s
}

// drain reads what the server managed to send until the connection ends, and returns how many
// events that was and how long the end took.
func (s *StuckClient) Drain(t *testing.T, timeout time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n := 0
	for {
		_, data, err := s.c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the stuck client was not disconnected within %s (%d events read)", timeout, n)
			}
			return n, time.Since(start)
		}
		if strings.Contains(string(data), `"type":"next"`) {
			n++
		}
	}
}

// Conn is the client's socket, for a test that closes it itself.
func (w *WSClient) Conn() *websocket.Conn { return w.c }
