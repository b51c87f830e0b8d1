package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// SSEStream is a POST /graphql with Accept: text/event-stream, read event by event.
type SSEStream struct {
	t        testing.TB
	Resp     *http.Response
	events   chan SSEEvent
	Comments atomic.Int64 // keep-alive lines (": ping")
}

type SSEEvent struct {
	Event string
	Data  string
}

func OpenSSE(t testing.TB, base, token, query string) *SSEStream {
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
	s := &SSEStream{t: t, Resp: resp, events: make(chan SSEEvent, 10000)}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		go s.read()
	}
	return s
}

func (s *SSEStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.Resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var ev SSEEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" {
				s.events <- ev
			}
			ev = SSEEvent{}
		case strings.HasPrefix(line, ":"):
			s.Comments.Add(1)
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *SSEStream) Next(timeout time.Duration) SSEEvent {
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
	return SSEEvent{}
}

// Events is the stream's events as they arrive; it is closed when the stream ends.
func (s *SSEStream) Events() <-chan SSEEvent { return s.events }
