package live

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Close codes this package sends besides gqlgen's own.
const (
	closeGoingAway     = 1001 // shutdown: the client reconnects (to another replica)
	closeSlowConsumer  = 1008 // policy violation: the client did not read its events
	closeTryAgainLater = 1013 // the server cannot verify tokens yet (no JWKS key loaded)
	closeForbidden     = 4403 // graphql-ws Forbidden: a missing, refused or expired token
	closeBadSubproto   = 4406 // graphql-ws: the graphql-transport-ws subprotocol was not offered
	closeInitTimeout   = 4408 // graphql-ws: no connection_init in time
	closeBadRequest    = 4400 // graphql-ws: a message the server will not read
)

type sessionKind uint8

const (
	wsSession sessionKind = iota + 1
	sseSession
)

type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// session is one long-lived connection: a WebSocket or an SSE stream. It is how the hub ends a
// connection (expiry, a slow reader, shutdown) with the right code, and how Shutdown knows when
// a socket has written everything it owed.
type session struct {
	hub  *Hub
	kind sessionKind

	// header is the upgrade request's Authorization values (WebSocket).
	header []string
	conn   *wsConn                  // the socket, once accepted
	rc     *http.ResponseController // the SSE response

	mu       sync.Mutex
	cancel   context.CancelFunc // ends the connection's context (set at connection_init, or for SSE)
	code     int                // what the socket closes with instead of gqlgen's 1000 "terminated"
	reason   string
	expiry   *time.Timer
	ops      map[string]struct{} // operations open on the socket, by id
	flushes  int                 // drained subscriptions whose events are all written
	draining bool
	acked    bool          // connection_init accepted: the socket is pinged
	pinged   bool          // a ping is out...
	ponged   bool          // ...and its pong came back
	missed   int           // pings in a row without a pong
	done     chan struct{} // closed when the connection's handler has returned
	owner    uuid.UUID     // the user whose SOCKETS_PER_USER place it holds (bounds.go)
	token    string        // the bearer token it was authenticated with (bounds.go: EndUnpublished)
	stream   bool          // SSE: a subscription runs on it (bounds.go)
	// slots bounds the operations open on a socket (bounds.go); one is taken per id in ops.
	slots chan struct{}
}

func (h *Hub) newSession(kind sessionKind) *session {
	s := &session{hub: h, kind: kind, ops: map[string]struct{}{}, done: make(chan struct{}),
		slots: make(chan struct{}, h.cfg.PerUser+OperationsPerSocket)}
	h.mu.Lock()
	h.sessions[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// finish is called when the connection's handler returns.
func (s *session) finish() {
	s.mu.Lock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	cancel, conn := s.cancel, s.conn
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if conn != nil {
		_ = conn.Close() // gqlgen can return without closing (an unparsable connection_init)
	}
	s.releaseSocket()
	s.hub.mu.Lock()
	delete(s.hub.sessions, s)
	s.hub.mu.Unlock()
	close(s.done)
}

// started gives an authenticated WebSocket its context: cancelling it makes gqlgen close the
// socket, with the code disconnect chose. The socket closes with 4403 token_expired at expiry.
func (s *session) started(ctx context.Context, expiry time.Time) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel, s.acked = cancel, true
	if !expiry.IsZero() {
		s.expiry = time.AfterFunc(time.Until(expiry), func() { s.disconnect(closeForbidden, "token_expired") })
	}
	s.mu.Unlock()
	return ctx
}

// disconnect ends the connection: a WebSocket closes with code and reason (the first call
// decides), an SSE stream's response is cut.
func (s *session) disconnect(code int, reason string) {
	s.mu.Lock()
	if s.code == 0 {
		s.code, s.reason = code, reason
	}
	cancel, conn := s.cancel, s.conn
	s.mu.Unlock()
	switch {
	case s.kind == sseSession:
		if s.rc != nil {
			_ = s.rc.SetWriteDeadline(time.Now()) // a writer blocked on a reader that does not read returns
		}
		if cancel != nil {
			cancel()
		}
	case cancel != nil:
		cancel() // gqlgen closes the socket; conn.WriteClose sends s.code
	case conn != nil:
		_ = conn.WriteClose(code, reason) // before connection_init: no gqlgen context to cancel yet
	}
}

// closeStatus is what the socket closes with when gqlgen asks for code and reason.
func (s *session) closeStatus(code int, reason string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.code != 0:
		return s.code, s.reason
	case code == 1002 && reason == "connection initialisation timeout":
		return closeInitTimeout, "Connection initialisation timeout"
	}
	return code, reason
}

// received notes an operation the client starts or stops; sent, one the server completes. A
// subscribe whose id is open already is not noted: false.
func (s *session) received(typ, id string) bool {
	switch typ {
	case "subscribe":
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, dup := s.ops[id]; dup {
			return false
		}
		s.ops[id] = struct{}{}
	case "complete":
		s.opEnded(id)
	case "pong":
		s.mu.Lock()
		s.ponged = true
		s.mu.Unlock()
	}
	return true
}

// isOpen says whether id is an operation open on the socket.
func (s *session) isOpen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ops[id]
	return ok
}

// ping is one keep-alive tick: a socket that left its last two pings unanswered is dropped
// (graphql-ws answers pings by itself), the others get a new one. One goroutine of the hub pings every
// socket, instead of one per socket.
func (s *session) ping(timeout time.Duration) {
	s.mu.Lock()
	if !s.acked || s.conn == nil {
		s.mu.Unlock()
		return
	}
	if s.pinged && !s.ponged {
		s.missed++
	} else {
		s.missed = 0
	}
	dead := s.missed >= 2
	s.pinged, s.ponged = true, false
	conn := s.conn
	s.mu.Unlock()
	if dead {
		_ = conn.c.CloseNow()
		return
	}
	go conn.writeRaw(pingMessage, timeout)
}

var pingMessage = []byte(`{"type":"ping"}`)

func (s *session) opEnded(id string) {
	s.mu.Lock()
	_, open := s.ops[id]
	delete(s.ops, id)
	s.mu.Unlock()
	if open {
		<-s.slots // its slot is free at once (bounds.go)
	}
	s.closeIfDrained()
}

// flushed counts a drained subscription whose last event is written, until the socket closes.
func (s *session) flushed(ctx context.Context) {
	s.mu.Lock()
	s.flushes++
	s.mu.Unlock()
	s.closeIfDrained()
	<-ctx.Done()
	s.mu.Lock()
	s.flushes--
	s.mu.Unlock()
}

// drain marks the socket as shutting down: it closes with 1001 as soon as every operation still
// open on it is a drained subscription (queries and mutations over the socket run to the end).
func (s *session) drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.closeIfDrained()
}

func (s *session) closeIfDrained() {
	s.mu.Lock()
	ready := s.draining && len(s.ops) <= s.flushes
	s.mu.Unlock()
	if ready {
		s.disconnect(closeGoingAway, "server shutting down")
	}
}
