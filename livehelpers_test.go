package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks graphql-transport-ws as the graphql-ws client does, answering pings (unless
// noPong). Messages are sorted by operation id; connection_ack and the like have id "".
type wsClient struct {
	t      testing.TB
	c      *websocket.Conn
	noPong atomic.Bool
	pings  atomic.Int64

	mu   sync.Mutex
	byID map[string]chan wsMessage
	// done is closed when the socket is; closeErr is its close status (code -1: none).
	done     chan struct{}
	closeErr websocket.CloseError
}

func (w *wsClient) ch(id string) chan wsMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.byID[id]
	if c == nil {
		c = make(chan wsMessage, 100000)
		w.byID[id] = c
	}
	return c
}

// dialWS opens a socket to base (http://host:port) with the graphql-transport-ws subprotocol.
func dialWS(t testing.TB, base string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(64 << 20)
	w := &wsClient{t: t, c: c, byID: map[string]chan wsMessage{}, done: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { _ = c.CloseNow() })
	return w, resp, nil
}

func (w *wsClient) read() {
	for {
		_, data, err := w.c.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				ce = websocket.CloseError{Code: -1, Reason: err.Error()}
			}
			w.closeErr = ce
			close(w.done)
			return
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.Type == "ping" {
			w.pings.Add(1)
			if !w.noPong.Load() {
				_ = w.send(wsMessage{Type: "pong"})
			}
			continue
		}
		w.ch(m.ID) <- m
	}
}

func (w *wsClient) send(m wsMessage) error {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, b)
}

// init sends connection_init with payload (nil: none).
func (w *wsClient) init(payload map[string]any) {
	w.t.Helper()
	m := wsMessage{Type: "connection_init"}
	if payload != nil {
		m.Payload, _ = json.Marshal(payload)
	}
	if err := w.send(m); err != nil {
		w.t.Fatalf("connection_init: %v", err)
	}
}

// connect sends connection_init with the token and waits for connection_ack.
func (w *wsClient) connect(token string) {
	w.t.Helper()
	w.init(map[string]any{"Authorization": "Bearer " + token})
	if m := w.next("", 5*time.Second); m.Type != "connection_ack" {
		w.t.Fatalf("after connection_init: %+v, want connection_ack", m)
	}
}

func (w *wsClient) subscribe(id, query string) {
	w.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query})
	if err := w.send(wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		w.t.Fatalf("subscribe: %v", err)
	}
}

// next is the next message of operation id, failing the test after timeout or when the socket
// closes first.
func (w *wsClient) next(id string, timeout time.Duration) wsMessage {
	w.t.Helper()
	c := w.ch(id)
	select {
	case m := <-c:
		return m
	default:
	}
	select {
	case m := <-c:
		return m
	case <-w.done:
		select { // read() queues every message before it reports the close
		case m := <-c:
			return m
		default:
		}
		w.t.Fatalf("socket closed (%d %q) while waiting for a message of %q", w.closeErr.Code, w.closeErr.Reason, id)
	case <-time.After(timeout):
		w.t.Fatalf("no message of %q within %s", id, timeout)
	}
	return wsMessage{}
}

// waitClose returns the close status within timeout.
func (w *wsClient) waitClose(timeout time.Duration) websocket.CloseError {
	w.t.Helper()
	select {
	case <-w.done:
		return w.closeErr
	case <-time.After(timeout):
		w.t.Fatalf("socket not closed within %s", timeout)
	}
	return websocket.CloseError{}
}

// payload of a "next" message.
type result struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func decodeResult(t testing.TB, raw json.RawMessage) result {
	t.Helper()
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return r
}

// taskEvent and tagEvent are the events as a test selects them (every field).
type taskEvent struct {
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

type tagEvent struct {
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
	taskEventsQuery = `subscription { taskEvents { kind id at task { id title description completed completedAt priority dueAt createdAt updatedAt tags { id name color createdAt } } } }`
	tagEventsQuery  = `subscription { tagEvents { kind id at tag { id name color createdAt } } }`
)

// nextTaskEvent and nextTagEvent read the next message of subscription id as an event.
func (w *wsClient) nextTaskEvent(id string, timeout time.Duration) taskEvent {
	w.t.Helper()
	return nextEvent[taskEvent](w, id, "taskEvents", timeout)
}

func (w *wsClient) nextTagEvent(id string, timeout time.Duration) tagEvent {
	w.t.Helper()
	return nextEvent[tagEvent](w, id, "tagEvents", timeout)
}

func nextEvent[E any](w *wsClient, id, field string, timeout time.Duration) E {
	w.t.Helper()
	m := w.next(id, timeout)
	if m.Type != "next" {
		w.t.Fatalf("got %s %s, want next of %s", m.Type, m.Payload, id)
	}
	r := decodeResult(w.t, m.Payload)
	var ev E
	if len(r.Errors) > 0 || json.Unmarshal(r.Data[field], &ev) != nil {
		w.t.Fatalf("%s event %s", field, m.Payload)
	}
	return ev
}

// sseStream is a POST /graphql with Accept: text/event-stream, read event by event.
type sseStream struct {
	t        testing.TB
	resp     *http.Response
	events   chan sseEvent
	comments atomic.Int64 // keep-alive lines (": ping")
}

type sseEvent struct {
	Event string
	Data  string
}

func openSSE(t testing.TB, base, token, query string) *sseStream {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SSE request: %v", err)
	}
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 10000)}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		go s.read()
	}
	return s
}

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.comments.Add(1)
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseStream) next(timeout time.Duration) sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("event stream ended")
		}
		return ev
	case <-time.After(timeout):
		s.t.Fatalf("no event within %s", timeout)
	}
	return sseEvent{}
}

// mutateOK posts a query as token and fails the test on any error; it returns data[field].
func mutateOK(t testing.TB, base, token, query string, vars map[string]any, field string) json.RawMessage {
	t.Helper()
	r, err := postOK(context.Background(), base, token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return r.Data[field]
}

// postOK posts a query as token; any error in the answer, or a status other than 200, is an
// error. It only returns errors, so it may run off the test's goroutine.
func postOK(ctx context.Context, base, token, query string, vars map[string]any) (result, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("POST %s: %w", base, err)
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Errors) > 0 || resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("%s via %s: status %d, %+v, %v", firstWords(query), base, resp.StatusCode, r.Errors, err)
	}
	return r, nil
}

func firstWords(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

func idOf(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", raw)
	}
	return v.ID
}

// websocketDialNoSubprotocol opens a socket offering no subprotocol.
func websocketDialNoSubprotocol(base string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", nil)
}

// readClose reads until the socket closes and returns its close status.
func readClose(c *websocket.Conn) (int, string) {
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

// stuckClient subscribes to task events, then reads nothing until drain. (Its socket keeps the
// default buffers: a receive buffer shrunk below loopback's MSS stalls TCP itself.)
type stuckClient struct {
	c *websocket.Conn
}

func dialStuck(t *testing.T, base, token string) *stuckClient {
	t.Helper()
	s := &stuckClient{}
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
	write := func(m wsMessage) {
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	payload, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	write(wsMessage{Type: "connection_init", Payload: payload})
	if _, data, err := c.Read(ctx); err != nil || !strings.Contains(string(data), "connection_ack") {
		t.Fatalf("stuck client: %s %v", data, err)
	}
	q, _ := json.Marshal(map[string]string{"query": `subscription { taskEvents { kind id task { description } } }`})
	write(wsMessage{ID: "s", Type: "subscribe", Payload: q})
	return s
}

// drain reads what the server managed to send until the connection ends, and returns how many
// events that was and how long the end took.
func (s *stuckClient) drain(t *testing.T, timeout time.Duration) (int, time.Duration) {
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
