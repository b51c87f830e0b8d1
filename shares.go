package main

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/apierr"
	"github.com/taskgraph/taskgraph/live"
)

// OPERATIONS_PER_USER (README.md, Limits): one user's queries and mutations over HTTP run at most
// this many at once; the next ones wait in a short queue, then are refused with 429 and
// Retry-After. With the pool's sessions shared by everyone, one user's 200 heavy queries would
// otherwise take them all and delay another user's `{ me }` by seconds.
const (
	// shareQueueWait is the longest a request waits for one of its user's places.
	shareQueueWait = 2 * time.Second
	// shareQueueDepth is how many requests per place may wait; beyond, they are refused at once.
	shareQueueDepth = 4
)

// defaultOperationsPerUser is half the pool: the other half stays for everyone else.
func defaultOperationsPerUser(dbConns int) int { return max(2, dbConns/2) }

type shares struct {
	limit int

	mu    sync.Mutex
	users map[uuid.UUID]*share
}

type share struct {
	slots   chan struct{}
	waiting int
	holders int // running or waiting: the entry is dropped at 0
}

func newShares(limit int) *shares { return &shares{limit: limit, users: map[uuid.UUID]*share{}} }

// Handler bounds the signed-in user's requests in flight (event streams aside: SOCKETS_PER_USER
// bounds those). It goes after auth.Middleware. Operations over a WebSocket take their places in
// graph (graph.Shares).
func (s *shares) Handler(next http.Handler) http.Handler {
	if s == nil || s.limit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.UserFrom(r.Context())
		if !ok || u.UUID == uuid.Nil || live.IsSSE(r) {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := s.Acquire(r.Context(), u.UUID)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(shareQueueWait/time.Second)/2))
			apierr.Write(w, http.StatusTooManyRequests, apierr.TooManyRequests,
				"you have "+strconv.Itoa(s.limit)+" operations running, the limit per user (OPERATIONS_PER_USER); retry after Retry-After", nil)
			return
		}
		defer release()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), heldKey{}, true)))
	})
}

type heldKey struct{}

// Held says whether the HTTP middleware holds a place for the request in ctx (graph.Shares).
func (s *shares) Held(ctx context.Context) bool { return ctx.Value(heldKey{}) != nil }

// Acquire takes one of user's places, waiting up to shareQueueWait in a queue of bounded depth.
func (s *shares) Acquire(ctx context.Context, user uuid.UUID) (release func(), ok bool) {
	s.mu.Lock()
	sh := s.users[user]
	if sh == nil {
		sh = &share{slots: make(chan struct{}, s.limit)}
		s.users[user] = sh
	}
	select {
	case sh.slots <- struct{}{}:
		sh.holders++
		s.mu.Unlock()
		return func() { s.release(user, sh) }, true
	default:
	}
	if sh.waiting >= shareQueueDepth*s.limit {
		s.mu.Unlock()
		return nil, false
	}
	sh.waiting++
	sh.holders++
	s.mu.Unlock()
	t := time.NewTimer(shareQueueWait)
	defer t.Stop()
	select {
	case sh.slots <- struct{}{}:
		s.mu.Lock()
		sh.waiting--
		s.mu.Unlock()
		return func() { s.release(user, sh) }, true
	case <-t.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	sh.waiting--
	s.drop(user, sh)
	s.mu.Unlock()
	return nil, false
}

func (s *shares) release(user uuid.UUID, sh *share) {
	<-sh.slots
	s.mu.Lock()
	s.drop(user, sh)
	s.mu.Unlock()
}

// drop forgets one holder of sh, and sh once it has none; s.mu is held.
func (s *shares) drop(user uuid.UUID, sh *share) {
	if sh.holders--; sh.holders == 0 {
		delete(s.users, user)
	}
}

// running is how many of user's requests hold a place.
func (s *shares) running(user uuid.UUID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.users[user]; sh != nil {
		return len(sh.slots)
	}
	return 0
}

// graph is s for graph.Options: nil when requests are unbounded.
func (s *shares) graph() graph.Shares {
	if s == nil || s.limit <= 0 {
		return nil
	}
	return s
}
