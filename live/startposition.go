package live

import (
	"context"
	"time"
)

// Where a new subscription starts: the feed's position at the moment it asked, read once for a
// burst of subscriptions.

// startPosition is the feed's position now: every change committed (acknowledged) before the
// call comes before it, every later one after it. The logical feed reads PostgreSQL's WAL insert
// position; the NOTIFY fallback sends a barrier and takes the place where its listener hears it.
func (h *Hub) startPosition(ctx context.Context) (position, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return h.sharedStart(ctx)
}

// readStart reads the start position once (startPosition shares it).
func (h *Hub) readStart(ctx context.Context) (position, error) {
	if h.Feed().Kind == FeedLogical {
		lsn, err := h.store.WALInsertLSN(ctx)
		return after(logicalEpoch, lsn), err
	}
	return h.barrier(ctx)
}

// startBatch is one start position shared by the subscriptions that asked while it was not yet
// read.
type startBatch struct {
	done chan struct{}
	pos  position
	err  error
}

// sharedStart is readStart for many at once: a subscription joins the next read to be made (one
// made after it asked, so its position is valid for it), so a burst of subscriptions costs a few
// statements or NOTIFYs, not one each.
func (h *Hub) sharedStart(ctx context.Context) (position, error) {
	h.mu.Lock()
	if h.nextStart == nil {
		h.nextStart = &startBatch{done: make(chan struct{})}
	}
	b := h.nextStart
	if !h.startSending {
		h.startSending = true
		h.nextStart = nil
		go h.sendStarts(b)
	}
	h.mu.Unlock()
	select {
	case <-b.done:
		return b.pos, b.err
	case <-ctx.Done():
		return position{}, ctx.Err()
	}
}

// sendStarts reads the positions of start batches, one after another, while there are any.
func (h *Hub) sendStarts(b *startBatch) {
	for b != nil {
		ctx, cancel := context.WithTimeout(h.ctx, startTimeout)
		b.pos, b.err = h.readStart(ctx)
		cancel()
		close(b.done)
		h.mu.Lock()
		b, h.nextStart = h.nextStart, nil
		h.startSending = b != nil
		h.mu.Unlock()
	}
}

// startTimeout bounds finding a subscription's start position.
const startTimeout = 5 * time.Second
