package live

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
)

// The listener reconnects after 100ms, backing off to 5s; it pings an idle connection so that a
// dead one is noticed.
const (
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
	pingInterval = 30 * time.Second
	loadTimeout  = 10 * time.Second
)

// work is one notification for a worker, or a barrier to pass.
type work struct {
	n       db.Notification
	barrier chan<- struct{}
}

// Start connects the listener to listenURL (a direct connection, not through a transaction-mode
// pooler) and starts the workers. It fails when the first connection attempt fails; afterwards
// the listener reconnects by itself.
func (h *Hub) Start(ctx context.Context, listenURL string) error {
	firstErr := make(chan error, 1)
	connected := make(chan struct{})
	l := pq.NewListener(withApplicationName(listenURL), minReconnect, maxReconnect, func(ev pq.ListenerEventType, err error) {
		select {
		case <-connected:
			h.listenerEvent(ev, err)
		default:
			if ev == pq.ListenerEventConnectionAttemptFailed {
				select {
				case firstErr <- err:
				default:
				}
			}
		}
	})
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(db.EventsChannel) }()
	select {
	case err := <-listened:
		if err != nil {
			_ = l.Close()
			return fmt.Errorf("DATABASE_LISTEN_URL: LISTEN %s: %w", db.EventsChannel, err)
		}
	case err := <-firstErr:
		_ = l.Close()
		return fmt.Errorf("DATABASE_LISTEN_URL: cannot connect: %w", err)
	case <-ctx.Done():
		_ = l.Close()
		return ctx.Err()
	}
	close(connected)

	h.mu.Lock()
	h.listener, h.up = l, true
	h.mu.Unlock()
	h.shards = make([]chan work, h.cfg.Workers)
	for i := range h.shards {
		q := make(chan work, h.cfg.Queue)
		h.shards[i] = q
		h.wg.Add(1)
		go h.worker(q)
	}
	h.wg.Add(3)
	go h.dispatch(l)
	go h.ping(l)
	go h.keepAlive()
	return nil
}

// keepAlive pings every socket each KeepAlive (session.ping).
func (h *Hub) keepAlive() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			for _, s := range h.liveSessions() {
				if s.kind == wsSession {
					s.ping(h.cfg.WriteTimeout)
				}
			}
		}
	}
}

// applicationName names the listener's connection in pg_stat_activity.
const applicationName = "taskgraph listener"

// withApplicationName sets application_name on a connection URL or key=value string that has
// none.
func withApplicationName(dsn string) string {
	if strings.Contains(dsn, "application_name") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", applicationName)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " application_name='" + applicationName + "'"
}

// Close stops the listener and the workers (Shutdown first, for a graceful end).
func (h *Hub) Close() {
	h.mu.Lock()
	l := h.listener
	h.listener = nil
	h.mu.Unlock()
	h.cancel()
	if l != nil {
		_ = l.Close() // closes Notify, which ends dispatch, which ends the workers
	}
	h.wg.Wait()
}

func (h *Hub) listenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected:
		h.log.Warn("live: the listener lost its database connection; open subscriptions end with EVENTS_LOST", "err", err)
		h.mu.Lock()
		h.up = false
		h.mu.Unlock()
		h.endAll(nil, func(*Subscription) error { return ErrEventsLost })
	case pq.ListenerEventReconnected:
		h.log.Info("live: the listener reconnected")
		if h.hooks.ListenerReconnected != nil {
			h.hooks.ListenerReconnected()
		}
		h.mu.Lock()
		h.up = true
		h.mu.Unlock()
		h.endAll(func(s *Subscription) bool { return s.waiting }, func(*Subscription) error { return ErrEventsLost })
	case pq.ListenerEventConnectionAttemptFailed:
		h.log.Warn("live: the listener cannot reconnect yet", "err", err)
	}
}

// dispatch hands each notification to the worker of its user, in the order PostgreSQL
// delivers them (commit order).
func (h *Hub) dispatch(l *pq.Listener) {
	defer h.wg.Done()
	defer func() {
		for _, q := range h.shards {
			close(q)
		}
	}()
	for n := range l.Notify {
		if n == nil { // after a reconnect: listenerEvent has handled it
			continue
		}
		if strings.HasPrefix(n.Extra, `{"barrier":`) {
			h.passBarrier(n.Extra)
			continue
		}
		note, err := db.ParseNotification(n.Extra)
		if err != nil {
			h.log.Warn("live: ignoring a notification", "err", err)
			continue
		}
		q := h.shards[shardOf(note, len(h.shards))]
		select {
		case q <- work{n: note}:
		default:
			h.overflow(note)
		}
	}
}

func shardOf(n db.Notification, shards int) int {
	return int(binary.BigEndian.Uint64(n.User[8:]) % uint64(shards))
}

// overflow: the worker is too far behind to take n. Its user's subscribers cannot be told what
// changed, so they lose their subscriptions rather than the listener falling behind everyone.
func (h *Hub) overflow(n db.Notification) {
	subs := h.subscribers(n.User, topicOf(n.Kind))
	if len(subs) == 0 {
		return
	}
	h.log.Warn("live: worker queue full; the user's subscriptions end with EVENTS_LOST", "user", n.User)
	if h.hooks.Dropped != nil {
		h.hooks.Dropped(len(n.IDs) * len(subs))
	}
	for _, s := range subs {
		s.end(ErrEventsLost)
	}
}

func (h *Hub) ping(l *pq.Listener) {
	defer h.wg.Done()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			_ = l.Ping() // a dead connection fails here, and pq reconnects
		}
	}
}

func (h *Hub) worker(q <-chan work) {
	defer h.wg.Done()
	for w := range q {
		if w.barrier != nil {
			w.barrier <- struct{}{}
			continue
		}
		h.handle(w.n)
	}
}

// handle loads the rows of one notification once, for its user, and gives the events to every
// subscriber of that user on this replica.
func (h *Hub) handle(n db.Notification) {
	subs := h.subscribers(n.User, topicOf(n.Kind))
	if len(subs) == 0 {
		return
	}
	events, err := h.load(n)
	if err != nil {
		if h.ctx.Err() == nil {
			h.log.Error("live: loading changed rows failed; the user's subscriptions end with EVENTS_LOST", "user", n.User, "err", err)
		}
		for _, s := range subs {
			s.end(ErrEventsLost)
		}
		return
	}
	for _, ev := range events {
		for _, s := range subs {
			s.deliver(ev)
		}
	}
}

// load turns a notification into events. A row gone by the time it is loaded (deleted by a later
// transaction, whose own event follows) gives no event.
func (h *Hub) load(n db.Notification) ([]*Event, error) {
	events := make([]*Event, 0, len(n.IDs))
	if n.Op == db.OpDeleted {
		for _, id := range n.IDs {
			events = append(events, &Event{Op: n.Op, ID: id, At: n.At})
		}
		return events, nil
	}
	ctx, cancel := context.WithTimeout(h.ctx, loadTimeout)
	defer cancel()
	if n.Kind == db.KindTask {
		tasks, err := h.store.TasksByID(ctx, n.User, n.IDs)
		if err != nil {
			return nil, err
		}
		for _, id := range n.IDs {
			if t, ok := tasks[id]; ok {
				events = append(events, &Event{Op: n.Op, ID: id, At: n.At, Task: &t})
			}
		}
		return events, nil
	}
	tags, err := h.store.TagsByID(ctx, n.User, n.IDs)
	if err != nil {
		return nil, err
	}
	for _, id := range n.IDs {
		if t, ok := tags[id]; ok {
			events = append(events, &Event{Op: n.Op, ID: id, At: n.At, Tag: &t})
		}
	}
	return events, nil
}

// Sync returns once every notification committed before it was called has been handled by the
// workers (its events are in the subscribers' buffers), or when ctx is done. It sends a barrier
// through PostgreSQL itself, since only the listener's order says what came before.
func (h *Hub) Sync(ctx context.Context) error {
	var b [12]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	passed := make(chan struct{})
	h.mu.Lock()
	h.barriers[nonce] = passed
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.barriers, nonce)
		h.mu.Unlock()
	}()
	payload, _ := json.Marshal(map[string]string{"barrier": nonce})
	if err := h.store.Notify(ctx, string(payload)); err != nil {
		return err
	}
	select {
	case <-passed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// passBarrier runs a barrier of this hub (other replicas' are ignored) through every worker,
// then releases Sync.
func (h *Hub) passBarrier(payload string) {
	var b struct{ Barrier string }
	if json.Unmarshal([]byte(payload), &b) != nil {
		return
	}
	h.mu.Lock()
	passed, ok := h.barriers[b.Barrier]
	h.mu.Unlock()
	if !ok {
		return
	}
	acks := make(chan struct{}, len(h.shards))
	for _, q := range h.shards {
		q <- work{barrier: acks} // blocks while a worker's queue is full: a barrier must not be lost
	}
	go func() {
		for range h.shards {
			<-acks
		}
		close(passed)
	}()
}
