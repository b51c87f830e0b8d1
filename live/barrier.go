package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// Barriers: a nonce sent through PostgreSQL whose place in the feed says what was committed
// before a moment (startposition.go, Sync).

// barrier sends a barrier through PostgreSQL and returns the position at which the feed heard
// it: every change committed before the call comes before it.
func (h *Hub) barrier(ctx context.Context) (position, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	seen := make(chan position, 1)
	h.mu.Lock()
	h.barriers[nonce] = seen
	kind := h.feed.kind
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.barriers, nonce)
		h.mu.Unlock()
	}()
	var err error
	if kind == FeedLogical {
		err = h.store.EmitBarrier(ctx, nonce)
	} else {
		err = h.store.Notify(ctx, `{"barrier":"`+nonce+`"}`)
	}
	if err != nil {
		return position{}, err
	}
	select {
	case p := <-seen:
		return p, nil
	case <-ctx.Done():
		return position{}, ctx.Err()
	}
}

// barrierSeen: the feed heard a barrier at p (other replicas' are ignored).
func (h *Hub) barrierSeen(nonce string, p position) {
	h.mu.Lock()
	seen, ok := h.barriers[nonce]
	h.mu.Unlock()
	if ok {
		select {
		case seen <- p:
		default:
		}
	}
}

// Sync returns once every change committed before it was called has been handled by the workers
// (its events are in the subscribers' buffers), or when ctx is done. It sends a barrier through
// PostgreSQL itself, since only the feed's order says what came before.
func (h *Hub) Sync(ctx context.Context) error {
	if _, err := h.barrier(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	h.mu.Lock()
	for _, us := range h.users {
		if us.scheduled {
			wg.Add(1)
			us.queue = append(us.queue, item{barrier: &wg})
		}
	}
	h.mu.Unlock()
	passed := make(chan struct{})
	go func() { wg.Wait(); close(passed) }()
	select {
	case <-passed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
