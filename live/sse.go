package live

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// SSE serves GraphQL over Server-Sent Events: POST /graphql with Accept: text/event-stream
// (preferred to JSON; see IsSSE), by gqlgen's transport, with keep-alive comments. Authentication is the HTTP middleware's, as on
// any POST. An SSE subscription ends with a final error event at the token's expiry
// (ErrTokenExpired) and at shutdown (ErrShuttingDown); a reader too slow for its buffer has its
// response cut.
func (h *Hub) SSE() *SSE { return &SSE{hub: h} }

// SSE is the Server-Sent Events transport of a hub.
type SSE struct{ hub *Hub }

var gqlgenSSE transport.SSE

// IsSSE says whether r asks for an event stream: a POST that gqlgen's SSE transport would take
// and whose Accept prefers text/event-stream to JSON. Clients that accept both list JSON first
// for queries and mutations (urql sends "application/graphql-response+json, ..., text/event-stream"
// and only "text/event-stream, multipart/mixed" for a subscription): they get JSON.
func IsSSE(r *http.Request) bool {
	return gqlgenSSE.Supports(r) && prefersEventStream(r.Header.Values("Accept"))
}

// prefersEventStream weighs text/event-stream against the JSON types by q, then by order.
func prefersEventStream(accept []string) bool {
	stream, json := -1.0, -1.0
	streamAt, jsonAt := -1, -1
	i := 0
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			typ, params, _ := strings.Cut(part, ";")
			typ = strings.ToLower(strings.TrimSpace(typ))
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			switch typ {
			case "text/event-stream":
				if q > stream {
					stream, streamAt = q, i
				}
			case "application/json", "application/graphql-response+json", "application/graphql+json":
				if q > json {
					json, jsonAt = q, i
				}
			}
			i++
		}
	}
	switch {
	case stream <= 0:
		return false
	case stream != json:
		return stream > json
	}
	return streamAt < jsonAt
}

// Handler gives an event-stream request its session. The server's write timeout stays on a
// query or mutation asked for as a stream (its answer is one event); once a subscription opens
// on it, the stream has no deadline as a whole, and each write gets WriteTimeout instead
// (guardedWriter), after which the stream is cut. A signed-in user's streams count against
// SOCKETS_PER_USER (HTTP 429, TOO_MANY_SOCKETS). Other requests pass untouched.
func (t *SSE) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsSSE(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		ctx, cancel := context.WithCancel(r.Context())
		s := t.hub.newSession(sseSession)
		s.rc, s.cancel = rc, cancel
		defer s.finish()
		if u, ok := auth.UserFrom(r.Context()); ok && u.UUID != uuid.Nil && !s.claimSocket(u.UUID) {
			w.Header().Set("Retry-After", "5")
			apierr.Write(w, http.StatusTooManyRequests, apierr.TooManySockets, errTooManySockets.Error(), nil)
			return
		}
		s.authenticatedWith(r.Header.Values("Authorization"))
		gw := &guardedWriter{ResponseWriter: w, s: s, rc: rc}
		defer gw.finish()
		next.ServeHTTP(gw, r.WithContext(withSession(ctx, s)))
	})
}

var errStreamEnded = errors.New("live: the event stream has ended")

// guardedWriter refuses writes once the handler has returned: gqlgen's SSE keep-alive goroutine
// is not joined when the stream ends, and a write or flush after that would reach a finished
// net/http response (a nil pointer inside it).
// On a stream, each write gets its own deadline: a reader that takes none of it for WriteTimeout
// has its stream cut (and its subscription ended), whatever it left unread.
type guardedWriter struct {
	http.ResponseWriter
	s        *session
	rc       *http.ResponseController
	mu       sync.Mutex
	finished bool
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.finished {
		return 0, errStreamEnded
	}
	g.deadline()
	return g.ResponseWriter.Write(p)
}

func (g *guardedWriter) Flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.finished {
		g.deadline()
		_ = g.rc.Flush()
	}
}

// deadline moves a stream's write deadline to WriteTimeout from now; a response that is not
// (yet) a stream keeps the server's.
func (g *guardedWriter) deadline() {
	if g.s.isStream() && !g.s.cut() {
		_ = g.rc.SetWriteDeadline(g.s.writeDeadline())
	}
}

func (g *guardedWriter) finish() {
	g.mu.Lock()
	g.finished = true
	g.mu.Unlock()
}

func (g *guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// Transport is gqlgen's SSE transport; it only takes the requests Handler has prepared.
func (t *SSE) Transport() graphql.Transport {
	return sseTransport{transport.SSE{KeepAlivePingInterval: t.hub.cfg.KeepAlive}}
}

type sseTransport struct{ transport.SSE }

func (t sseTransport) Supports(r *http.Request) bool {
	s := sessionFrom(r.Context())
	return s != nil && s.kind == sseSession && IsSSE(r)
}
