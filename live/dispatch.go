package live

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
)

// The feed (logical.go, listener.go) hands every committed change to receive, in commit order.
// receive never waits: it appends the change to the resume window and, when its user has
// subscriptions here, to that user's own queue. Workers take users in turn from runq and handle
// one user's queue in order (loading rows once for all of them), so one user's volume or slow
// readers hold up that user only; a user whose queue overflows loses its own subscriptions.

// entry is one notification of a committed transaction: one user's changes of one kind and op.
type entry struct {
	pos   position // of its first id; the i-th id is at k+i
	xid   uint32   // its transaction, from the logical feed (0: the NOTIFY fallback's, visible already)
	note  db.Notification
	added time.Time
}

func (e *entry) last() position {
	return position{e.pos.epoch, e.pos.pos, e.pos.k + uint32(len(e.note.IDs)) - 1}
}

// item is one thing a user's worker does, in order: deliver an entry, replay the window to a
// new subscription, or pass a barrier.
type item struct {
	e       *entry
	join    *Subscription
	replay  []*entry
	barrier *sync.WaitGroup
}

type userState struct {
	id        uuid.UUID
	subs      map[*Subscription]struct{}
	queue     []item
	scheduled bool // in runq, or a worker is handling it
}

// enqueue adds it to the user's queue and schedules the user. h.mu is held. Over Queue, the
// user's subscriptions end with ErrEventsLost (overflowed returns them, to end without h.mu).
func (h *Hub) enqueue(us *userState, it item) (overflowed []*Subscription) {
	if it.e != nil && len(us.queue) >= h.cfg.Queue {
		for _, q := range us.queue {
			if q.barrier != nil {
				q.barrier.Done()
			}
		}
		us.queue = nil
		for s := range us.subs {
			overflowed = append(overflowed, s)
		}
		return overflowed
	}
	us.queue = append(us.queue, it)
	if !us.scheduled {
		us.scheduled = true
		h.runq = append(h.runq, us)
		h.work.Signal()
	}
	return nil
}

// receive takes the notifications of one committed transaction at pos (the feed's goroutine, in
// commit order); it never waits.
func (h *Hub) receive(epoch, pos uint64, xid uint32, notes []db.Notification) {
	now := time.Now()
	var lost []*Subscription
	h.mu.Lock()
	if !h.feed.up || epoch != h.feed.epoch {
		h.mu.Unlock()
		return
	}
	k := uint32(0)
	for _, n := range notes {
		if len(n.IDs) == 0 {
			continue
		}
		e := &entry{pos: position{epoch, pos, k}, xid: xid, note: n, added: now}
		k += uint32(len(n.IDs))
		h.window.entries = append(h.window.entries, e)
		if us := h.users[n.User]; us != nil {
			if o := h.enqueue(us, item{e: e}); o != nil {
				lost = append(lost, o...)
				h.log.Warn("live: a user's changes queue is full; that user's subscriptions end with EVENTS_LOST", "user", n.User, "queue", h.cfg.Queue)
			}
		}
	}
	h.evict(now)
	h.mu.Unlock()
	if len(lost) > 0 && h.hooks.Dropped != nil {
		h.hooks.Dropped(len(lost))
	}
	for _, s := range lost {
		s.end(ErrEventsLost)
	}
}

// worker handles users in turn: a batch of one user's queue at a time, then the next user.
func (h *Hub) worker() {
	defer h.wg.Done()
	const batch = 64
	for {
		h.mu.Lock()
		for len(h.runq) == 0 && !h.stopped {
			h.work.Wait()
		}
		if h.stopped {
			h.mu.Unlock()
			return
		}
		us := h.runq[0]
		h.runq[0] = nil
		h.runq = h.runq[1:]
		n := min(len(us.queue), batch)
		items := append([]item(nil), us.queue[:n]...)
		clear(us.queue[:n])
		us.queue = us.queue[n:]
		h.mu.Unlock()

		h.handle(us, items)

		h.mu.Lock()
		if len(us.queue) > 0 {
			h.runq = append(h.runq, us) // behind the others: no user keeps a worker
			h.work.Signal()
		} else {
			us.scheduled = false
			h.forget(us)
		}
		h.mu.Unlock()
	}
}

// handle does a batch of one user's items in order; the rows of consecutive changes are loaded
// together, in one statement per kind.
func (h *Hub) handle(us *userState, items []item) {
	for i := 0; i < len(items); {
		it := items[i]
		switch {
		case it.barrier != nil:
			it.barrier.Done()
			i++
		case it.join != nil:
			h.join(it.join, it.replay)
			i++
		default:
			j := i
			for j < len(items) && items[j].e != nil {
				j++
			}
			h.deliverChanges(us, items[i:j])
			i = j
		}
	}
}

// join gives s its replay from the window, after which the worker delivers the user's changes
// to it.
func (h *Hub) join(s *Subscription, replay []*entry) {
	if n := h.deliverEntries(s.user, replay, func(*entry) []*Subscription { return []*Subscription{s} }); n > 0 && h.hooks.Replayed != nil {
		h.hooks.Replayed(n)
	}
	h.mu.Lock()
	s.joined = true
	h.mu.Unlock()
}

// deliverChanges delivers consecutive changes (items with an entry) to the user's subscriptions
// that have joined.
func (h *Hub) deliverChanges(us *userState, items []item) {
	entries := make([]*entry, 0, len(items))
	for _, it := range items {
		entries = append(entries, it.e)
	}
	h.mu.Lock()
	var tasks, tags []*Subscription
	for s := range us.subs {
		if s.joined {
			if s.topic == TaskEvents {
				tasks = append(tasks, s)
			} else {
				tags = append(tags, s)
			}
		}
	}
	h.mu.Unlock()
	h.deliverEntries(us.id, entries, func(e *entry) []*Subscription {
		if topicOf(e.note.Kind) == TaskEvents {
			return tasks
		}
		return tags
	})
}
