package live

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
)

// Delivery: a worker loads the rows of a run of one user's changes once, under row-level
// security as that user, and puts each event in the buffers of the subscriptions that hear it.

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

// loadTimeout bounds loading one run of changes' rows.
const loadTimeout = 10 * time.Second

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
