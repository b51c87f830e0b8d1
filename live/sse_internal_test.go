package live

import "testing"

func TestPrefersEventStream(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/event-stream":                  true,
		"text/event-stream, multipart/mixed": true, // urql, subscriptions over fetch
		"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed": false, // urql, the rest
		"application/json": false,
		"*/*":              false,
		"":                 false,
		"application/json;q=0.5, text/event-stream": true,
		"text/event-stream;q=0, application/json":   false,
		"TEXT/EVENT-STREAM;q=0.9":                   true,
		"text/event-stream, application/json":       true,
	} {
		if got := prefersEventStream([]string{accept}); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}
