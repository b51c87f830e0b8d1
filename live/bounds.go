package live

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Bounds of a connection's share of the server (issue 20; README.md, Limits).
const (
	// DefaultSocketsPerUser is SOCKETS_PER_USER's default: authenticated WebSockets and SSE
	// streams one user holds at once on a replica.
	DefaultSocketsPerUser = 20
	// PreInitReadLimit is the largest WebSocket message read before connection_init is
	// accepted: the init message carries a token of at most 8 KiB.
	PreInitReadLimit = 16 << 10
	// ReadLimit is the largest message of an authenticated socket (a request body's bound).
	ReadLimit = 1 << 20
	// OperationsPerSocket bounds the queries and mutations running at once on one socket, besides
	// its subscriptions (at most SUBSCRIPTIONS_PER_USER): a burst of subscribe messages waits,
	// unread, while they run.
	OperationsPerSocket = 8
	// closeTooManySockets: SOCKETS_PER_USER are open already (graphql-ws's 4429, which its client
	// does not retry).
	closeTooManySockets = 4429
	// closeDuplicateID: a subscribe message reused an id still in use (graphql-ws: "Subscriber for
	// <id> already exists").
	closeDuplicateID = 4409
)

func (c Config) socketsPerUser() int {
	if c.SocketsPerUser > 0 {
		return c.SocketsPerUser
	}
	return DefaultSocketsPerUser
}

// socketCounts counts each user's authenticated sockets and streams.
type socketCounts struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

// claim takes one of user's places; false when all are taken.
func (c *socketCounts) claim(user uuid.UUID, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[uuid.UUID]int{}
	}
	if c.n[user] >= limit {
		return false
	}
	c.n[user]++
	return true
}

func (c *socketCounts) release(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[user]--; c.n[user] <= 0 {
		delete(c.n, user)
	}
}

// SocketsOf is how many sockets and streams user holds on this replica.
func (h *Hub) SocketsOf(user uuid.UUID) int {
	h.sockets.mu.Lock()
	defer h.sockets.mu.Unlock()
	return h.sockets.n[user]
}

// claimSocket counts the session against its user's SOCKETS_PER_USER; false when over it. The
// place is released by finish.
func (s *session) claimSocket(user uuid.UUID) bool {
	if !s.hub.sockets.claim(user, s.hub.cfg.socketsPerUser()) {
		return false
	}
	s.mu.Lock()
	s.owner = user
	s.mu.Unlock()
	return true
}

func (s *session) releaseSocket() {
	s.mu.Lock()
	owner := s.owner
	s.owner = uuid.Nil
	s.mu.Unlock()
	if owner != uuid.Nil {
		s.hub.sockets.release(owner)
	}
}

// streaming is called when a subscription opens on the session: an SSE response is a stream
// from then on, so the server's deadline for the whole response no longer applies; each write
// gets WriteTimeout instead (guardedWriter). Queries and mutations over SSE keep the server's.
func (s *session) streaming() {
	if s == nil || s.kind != sseSession {
		return
	}
	s.mu.Lock()
	s.stream = true
	s.mu.Unlock()
}

func (s *session) isStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream
}

// writeDeadline is when a write that starts now must have finished.
func (s *session) writeDeadline() time.Time { return time.Now().Add(s.hub.cfg.WriteTimeout) }

// takeSlot waits up to wait for one of the socket's operation slots (released by opEnded); false
// when none came: the client sends faster than its operations end.
func (s *session) takeSlot(wait time.Duration) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-s.done:
		return false
	}
}

// cut says whether the session was disconnected: its deadline was set to now on purpose and
// must not be moved again.
func (s *session) cut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code != 0
}

// ErrKeyRemoved ends an event stream's subscriptions when the key that signed its token has left
// the JWKS (EndUnpublished). It is an ErrTokenExpired: the client is told, with a final error,
// to subscribe again with a fresh token.
var ErrKeyRemoved = fmt.Errorf("%w: the key that signed it has left the JWKS", ErrTokenExpired)

// authenticatedWith keeps the bearer token of the Authorization values the session was
// authenticated with.
func (s *session) authenticatedWith(values []string) {
	if len(values) != 1 {
		return
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return
	}
	s.mu.Lock()
	s.token = strings.TrimSpace(token)
	s.mu.Unlock()
}

// EndUnpublished ends the connections whose token published no longer accepts (its signing key
// has left the JWKS): a WebSocket closes with 4403 unknown_key, an event stream's subscriptions
// end with ErrKeyRemoved. The server calls it after each JWKS refresh; it returns how many ended.
func (h *Hub) EndUnpublished(published func(token string) bool) int {
	n := 0
	for _, s := range h.liveSessions() {
		s.mu.Lock()
		token := s.token
		s.mu.Unlock()
		if token == "" || published(token) {
			continue
		}
		n++
		if s.kind == wsSession {
			s.disconnect(closeForbidden, "unknown_key")
			continue
		}
		h.endAll(func(sub *Subscription) bool { return sub.session == s }, func(*Subscription) error { return ErrKeyRemoved })
	}
	return n
}

// Sessions is the number of open WebSockets and event streams, authenticated or not.
func (h *Hub) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}
