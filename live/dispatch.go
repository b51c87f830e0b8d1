package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// window is the recent changes, oldest first: what SubscribeAfter resumes from. It holds every
// change after from, of the feed's current epoch.
type window struct {
	entries []*entry
	from    position
}

// feedState is what the feed reports (Feed).
type feedState struct {
	kind   FeedKind
	reason string // why this kind (the fallback's cause, the setting that switches it)
	up     bool
	err    string // why it is down
	epoch  uint64
	seq    uint64 // the NOTIFY fallback's count of notifications on this connection
}

// register adds s to its user's subscriptions and queues its join: the window's changes after
// s.from, then everything the feed hands over after this moment. lost: s cannot start where it
// asked (a cursor of another connection or beyond the window): it ends with ErrEventsLost.
func (h *Hub) register(s *Subscription, known bool) (lost bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	us := h.users[s.user]
	if err := h.overLimit(us); err != nil {
		return false, err
	}
	if us == nil {
		us = &userState{id: s.user, subs: map[*Subscription]struct{}{}}
		h.users[s.user] = us
	}
	us.subs[s] = struct{}{}
	h.open++
	switch {
	case !h.feed.up:
		s.waiting = true
		return false, nil
	case !known:
		return true, nil
	}
	replay, ok := h.replayFor(s)
	if !ok {
		return true, nil
	}
	h.enqueue(us, item{join: s, replay: replay})
	return false, nil
}

// replayFor is what the window holds of s's changes after s.from; false when the window cannot
// resume s (a cursor of another connection, or older than the window). h.mu is held.
func (h *Hub) replayFor(s *Subscription) ([]*entry, bool) {
	h.evict(time.Now())
	w := &h.window
	if s.from.epoch != h.feed.epoch || s.from.less(w.from) {
		return nil, false
	}
	var replay []*entry
	for _, e := range w.entries {
		if e.note.User == s.user && topicOf(e.note.Kind) == s.topic && s.from.less(e.last()) {
			replay = append(replay, e)
		}
	}
	return replay, true
}

// forget drops a user's state once nothing refers to it. h.mu is held.
func (h *Hub) forget(us *userState) {
	if len(us.subs) == 0 && len(us.queue) == 0 && !us.scheduled && h.users[us.id] == us {
		delete(h.users, us.id)
	}
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

// evict drops the window's changes older than ResumeWindow or beyond ResumeChanges. h.mu is held.
func (h *Hub) evict(now time.Time) {
	w := &h.window
	n := 0
	for n < len(w.entries) && (len(w.entries)-n > h.cfg.ResumeChanges || now.Sub(w.entries[n].added) > h.cfg.ResumeWindow) {
		w.from = w.entries[n].last()
		n++
	}
	if n > 0 {
		clear(w.entries[:n])
		w.entries = w.entries[n:]
	}
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

// feedUp: the feed hears every change after from, on a new epoch (a new connection). The
// subscriptions opened while it was down end with ErrEventsLost.
func (h *Hub) feedUp(epoch uint64, from position) {
	h.mu.Lock()
	h.feed.up, h.feed.err, h.feed.epoch, h.feed.seq = true, "", epoch, 0
	h.window = window{from: from}
	h.mu.Unlock()
	h.endAll(func(s *Subscription) bool { return s.waiting }, func(*Subscription) error { return ErrEventsLost })
}

// feedDown: the feed lost its connection (or its silence was taken for a loss): every open
// subscription ends with ErrEventsLost, the window and the queues are dropped.
func (h *Hub) feedDown(err error) {
	h.mu.Lock()
	wasUp := h.feed.up
	h.feed.up = false
	if err != nil {
		h.feed.err = err.Error()
	}
	h.window = window{}
	for _, us := range h.users {
		for _, it := range us.queue {
			if it.barrier != nil {
				it.barrier.Done()
			}
		}
		us.queue = nil
	}
	h.mu.Unlock()
	if wasUp {
		h.log.Warn("live: the change feed lost its connection; open subscriptions end with EVENTS_LOST", "feed", h.feed.kind, "err", err)
	}
	h.endAll(nil, func(*Subscription) error { return ErrEventsLost })
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

// deliverEntries loads the rows of user's entries once (one statement per kind; none for the
// tags the logical feed decoded) and gives each event, in order, to the subscriptions subsOf
// names that start before it; it returns how many events it gave.
func (h *Hub) deliverEntries(user uuid.UUID, entries []*entry, subsOf func(*entry) []*Subscription) int {
	xids, taskIDs, tagIDs := toLoad(entries, subsOf)
	tasks, tags, err := h.load(user, xids, taskIDs, tagIDs)
	if err != nil {
		if h.ctx.Err() == nil {
			h.log.Error("live: loading changed rows failed; the user's subscriptions end with EVENTS_LOST", "user", user, "err", err)
		}
		for _, e := range entries {
			for _, s := range subsOf(e) {
				s.end(ErrEventsLost)
			}
		}
		return 0
	}
	n := 0
	var behind []*Subscription
	for _, e := range entries {
		subs := subsOf(e)
		if len(subs) == 0 {
			continue
		}
		for _, ev := range eventsOf(e, tasks, tags) {
			var given int
			given, behind = offerAll(ev, subs, behind[:0])
			n += given
			deliverBehind(ev, behind)
		}
	}
	return n
}

// toLoad lists what the entries that have subscribers need read: the transactions that must be
// visible first, and the ids of the rows to load.
func toLoad(entries []*entry, subsOf func(*entry) []*Subscription) (xids []uint32, taskIDs, tagIDs []uuid.UUID) {
	for _, e := range entries {
		if e.note.Op == db.OpDeleted || len(subsOf(e)) == 0 {
			continue
		}
		// Visible first, read or not: a subscriber that refetches on an event finds its change.
		if e.xid != 0 {
			xids = append(xids, e.xid)
		}
		for _, id := range e.note.IDs {
			switch _, decoded := e.note.Tags[id]; {
			case e.note.Kind == db.KindTask:
				taskIDs = append(taskIDs, id)
			case !decoded: // decoded: its row came from the WAL
				tagIDs = append(tagIDs, id)
			}
		}
	}
	return xids, taskIDs, tagIDs
}

// offerAll offers ev to the subscriptions that start before it; it returns how many it was
// given to and, appended to behind, those without room for it now.
func offerAll(ev *Event, subs, behind []*Subscription) (int, []*Subscription) {
	n := 0
	for _, s := range subs {
		if !s.from.less(ev.pos) {
			continue
		}
		n++
		if !s.offer(ev) {
			behind = append(behind, s)
		}
	}
	return n, behind
}

// deliverBehind waits for the readers that are behind to take ev: together, SlowReader at most,
// not one after another.
func deliverBehind(ev *Event, behind []*Subscription) {
	switch len(behind) {
	case 0:
	case 1:
		behind[0].deliver(ev)
	default:
		var wg sync.WaitGroup
		for _, s := range behind {
			wg.Add(1)
			go func() { defer wg.Done(); s.deliver(ev) }()
		}
		wg.Wait()
	}
}

// load reads the user's tasks and tags by id, under row-level security as that user.
// The transactions xids must be visible first (WaitVisible).
func (h *Hub) load(user uuid.UUID, xids []uint32, taskIDs, tagIDs []uuid.UUID) (map[uuid.UUID]db.Task, map[uuid.UUID]db.Tag, error) {
	ctx, cancel := context.WithTimeout(h.ctx, loadTimeout)
	defer cancel()
	if len(xids) > 0 {
		if err := h.store.WaitVisible(ctx, xids); err != nil {
			return nil, nil, err
		}
	}
	var tasks map[uuid.UUID]db.Task
	var tags map[uuid.UUID]db.Tag
	var err error
	if len(taskIDs) > 0 {
		if tasks, err = h.store.TasksByID(ctx, user, taskIDs); err != nil {
			return nil, nil, err
		}
	}
	if len(tagIDs) > 0 {
		if tags, err = h.store.TagsByID(ctx, user, tagIDs); err != nil {
			return nil, nil, err
		}
	}
	return tasks, tags, nil
}

// eventsOf turns an entry into events: a tag with the values its transaction wrote when the
// logical feed decoded them, else the rows as loaded. A row gone by the time it was loaded
// (deleted by a later transaction, whose own event follows) gives no event.
func eventsOf(e *entry, tasks map[uuid.UUID]db.Task, tags map[uuid.UUID]db.Tag) []*Event {
	n := e.note
	events := make([]*Event, 0, len(n.IDs))
	for i, id := range n.IDs {
		p := position{e.pos.epoch, e.pos.pos, e.pos.k + uint32(i)}
		ev := &Event{Op: n.Op, ID: id, At: n.At, Cursor: p.cursor(), pos: p}
		if n.Op != db.OpDeleted {
			if n.Kind == db.KindTask {
				t, ok := tasks[id]
				if !ok {
					continue
				}
				ev.Task = &t
			} else {
				t, ok := n.Tags[id]
				if !ok {
					t, ok = tags[id]
				}
				if !ok {
					continue
				}
				ev.Tag = &t
			}
		}
		events = append(events, ev)
	}
	return events
}

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
