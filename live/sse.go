package live

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// SSE serves GraphQL over Server-Sent Events: POST /graphql with Accept: text/event-stream
// (gqlgen's transport, with keep-alive comments). Authentication is the HTTP middleware's, as on
// any POST. An SSE subscription ends with a final error event at the token's expiry
// (ErrTokenExpired) and at shutdown (ErrShuttingDown); a reader too slow for its buffer has its
// response cut.
func (h *Hub) SSE() *SSE { return &SSE{hub: h} }

// SSE is the Server-Sent Events transport of a hub.
type SSE struct{ hub *Hub }

var gqlgenSSE transport.SSE

// IsSSE says whether r asks for an event stream, as gqlgen's SSE transport decides.
func IsSSE(r *http.Request) bool { return gqlgenSSE.Supports(r) }

// Handler gives an event-stream request its session and lifts the server's write timeout,
// which would otherwise cut every stream after WriteTimeout. Other requests pass untouched.
func (t *SSE) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsSSE(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		s := t.hub.newSession(sseSession)
		s.rc, s.cancel = rc, cancel
		defer s.finish()
		next.ServeHTTP(w, r.WithContext(withSession(ctx, s)))
	})
}

// Transport is gqlgen's SSE transport; it only takes the requests Handler has prepared.
func (t *SSE) Transport() graphql.Transport {
	return sseTransport{transport.SSE{KeepAlivePingInterval: t.hub.cfg.KeepAlive}}
}

type sseTransport struct{ transport.SSE }

func (t sseTransport) Supports(r *http.Request) bool {
	s := sessionFrom(r.Context())
	return s != nil && s.kind == sseSession && t.SSE.Supports(r)
}
