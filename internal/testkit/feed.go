package testkit

import (
	"encoding/json"
	"testing"
	"time"
)

// Feed is one subscription's stream on either transport: each call gives the next Result, or
// complete.
type Feed struct {
	Name string
	Next func(time.Duration) (payload json.RawMessage, complete bool)
}

// WSFeed is subscription id of w.
func WSFeed(t testing.TB, w *WSClient, id string) Feed {
	return Feed{"ws " + id, func(d time.Duration) (json.RawMessage, bool) {
		t.Helper()
		m := w.Next(id, d)
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

// SSEFeed is the subscription of s.
func SSEFeed(t testing.TB, s *SSEStream, name string) Feed {
	return Feed{"sse " + name, func(d time.Duration) (json.RawMessage, bool) {
		t.Helper()
		ev := s.Next(d)
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

// wait is how long a Feed waits for its next result.
const wait = 10 * time.Second

// Event reads the next event of field ("taskEvents" or "tagEvents") into out and returns the
// raw payload.
func (f Feed) Event(t testing.TB, field string, out any) string {
	t.Helper()
	raw, complete := f.Next(wait)
	if complete {
		t.Fatalf("%s: completed, want an event", f.Name)
	}
	r := DecodeResult(t, raw)
	if len(r.Errors) > 0 || json.Unmarshal(r.Data[field], out) != nil {
		t.Fatalf("%s: %s, want a %s event", f.Name, raw, field)
	}
	return string(raw)
}

// Ends expects a last Result with an error of code (and reason, if not ""), then complete.
func (f Feed) Ends(t testing.TB, code, reason string) {
	t.Helper()
	raw, complete := f.Next(wait)
	if complete {
		t.Fatalf("%s: completed without the %s error", f.Name, code)
	}
	r := DecodeResult(t, raw)
	if r.Code() != code || (reason != "" && r.Errors[0].Extensions["reason"] != reason) {
		t.Fatalf("%s: %s, want an error %s %s", f.Name, raw, code, reason)
	}
	if _, complete := f.Next(wait); !complete {
		t.Fatalf("%s: not completed after the %s error", f.Name, code)
	}
}
