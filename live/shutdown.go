package live

import (
	"context"
	"time"
)

// Shutdown ends every live connection after the work in flight, within ctx: new subscriptions
// end at once; every notification committed before the call is delivered (Sync); then each
// subscription ends, an SSE one with a final ErrShuttingDown event, a WebSocket one quietly; a
// socket closes with 1001 once everything it owed is written and the queries and mutations it
// carries have completed. When ctx ends first, the sockets left close with 1001 at once. Call it
// after the HTTP requests in flight (mutations) have finished, and Close after it.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	// Queries and mutations running on sockets finish first: a mutation acknowledged after
	// SIGTERM is then behind the barrier below, and reaches its user's subscribers.
	h.waitSocketOps(ctx)
	if err := h.Sync(ctx); err != nil {
		h.log.Warn("live: shutdown without the last events", "err", err)
	}
	for _, s := range h.liveSessions() {
		if s.kind == wsSession {
			s.drain()
		}
	}
	h.endAll(nil, func(s *Subscription) error { return drainErr(s.session) })

	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for len(h.liveSessions()) > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			for _, s := range h.liveSessions() {
				s.disconnect(closeGoingAway, "server shutting down")
			}
			return
		}
	}
}

// liveSessions is the open sessions at this moment.
func (h *Hub) liveSessions() []*session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessionList()
}

// sessionList is the open sessions. h.mu is held.
func (h *Hub) sessionList() []*session {
	out := make([]*session, 0, len(h.sessions))
	for s := range h.sessions {
		out = append(out, s)
	}
	return out
}

// waitSocketOps waits, within ctx, until no WebSocket carries an operation other than its
// subscriptions.
func (h *Hub) waitSocketOps(ctx context.Context) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for h.socketOps() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// socketOps counts the operations open on sockets that are not open subscriptions.
func (h *Hub) socketOps() int {
	h.mu.Lock()
	subs := map[*session]int{}
	for _, us := range h.users {
		for s := range us.subs {
			if s.session != nil {
				subs[s.session]++
			}
		}
	}
	sessions := h.sessionList()
	h.mu.Unlock()
	n := 0
	for _, s := range sessions {
		if s.kind != wsSession {
			continue
		}
		s.mu.Lock()
		n += max(0, len(s.ops)-subs[s])
		s.mu.Unlock()
	}
	return n
}
