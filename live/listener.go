package live

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
)

// The NOTIFY fallback: a pq.Listener on DATABASE_LISTEN_URL. It reconnects after 100ms, backing
// off to 5s. Every FeedTimeout/3 it is pinged, in a goroutine of its own and never under the hub's
// lock; a ping that has not answered within 2/3 FeedTimeout means the connection has gone silent
// (a hung peer or middlebox, TCP up): every subscriber is told, the listener is abandoned (closed
// in the background, never waited for) and a new one connects. A silence is thus noticed within
// FeedTimeout.
const (
	minReconnect = 100 * time.Millisecond
	maxReconnect = 5 * time.Second
)

// errSilent: the feed's connection stopped answering.
var errSilent = errors.New("the change feed's connection went silent (no answer within LIVE_FEED_TIMEOUT)")

// startNotify connects the first listener; it fails when that connection fails.
func (h *Hub) startNotify(ctx context.Context, listenURL string) error {
	l, gen, err := h.listen(ctx, listenURL)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.listener = l
	h.mu.Unlock()
	h.feedUp(newEpoch(), position{})
	h.wg.Add(1)
	go h.watchNotify(listenURL, l, gen)
	return nil
}

// newEpoch names one listener connection: its positions mean nothing on another.
func newEpoch() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if e := binary.BigEndian.Uint64(b[:]); e != logicalEpoch {
			return e
		}
	}
}

// generation is one listener: its events and notifications count only while it is current.
type generation struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// listen opens a listener and LISTENs; its dispatch runs until gen is cancelled.
func (h *Hub) listen(ctx context.Context, listenURL string) (*pq.Listener, *generation, error) {
	gctx, cancel := context.WithCancel(h.ctx)
	gen := &generation{ctx: gctx, cancel: cancel}
	firstErr := make(chan error, 1)
	connected := make(chan struct{})
	l := pq.NewListener(withApplicationName(listenURL), minReconnect, maxReconnect, func(ev pq.ListenerEventType, err error) {
		select {
		case <-connected:
			if gctx.Err() == nil {
				h.listenerEvent(ev, err)
			}
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
	fail := func(err error) (*pq.Listener, *generation, error) {
		cancel()
		go func() { _ = l.Close() }()
		return nil, nil, err
	}
	select {
	case err := <-listened:
		if err != nil {
			return fail(fmt.Errorf("DATABASE_LISTEN_URL: LISTEN %s: %w", db.EventsChannel, err))
		}
	case err := <-firstErr:
		return fail(fmt.Errorf("DATABASE_LISTEN_URL: cannot connect: %w", err))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	close(connected)
	h.wg.Add(1)
	go h.dispatch(l, gen)
	return l, gen, nil
}

// watchNotify pings the current listener and replaces it when it goes silent.
func (h *Hub) watchNotify(listenURL string, l *pq.Listener, gen *generation) {
	defer h.wg.Done()
	every := h.cfg.FeedTimeout / 3
	h.tick(every, func() bool {
		answered := make(chan struct{})
		go func() { _ = l.Ping(); close(answered) }() // an error: pq reconnects by itself
		select {
		case <-h.ctx.Done():
			return false
		case <-answered:
			return true
		case <-time.After(h.cfg.FeedTimeout - every):
		}
		h.log.Warn("live: the NOTIFY listener's connection went silent; replacing it", "timeout", h.cfg.FeedTimeout)
		gen.cancel()
		go func(old *pq.Listener) { _ = old.Close() }(l) // waits for the stuck ping: never waited for
		h.feedDown(errSilent)
		var ok bool
		l, gen, ok = h.relisten(listenURL)
		return ok
	})
}

// relisten connects a new listener in place of a silent one, backing off between attempts; false
// when the hub stops first.
func (h *Hub) relisten(listenURL string) (*pq.Listener, *generation, bool) {
	for backoff := minReconnect; ; backoff = min(2*backoff, maxReconnect) {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.FeedTimeout)
		l, gen, err := h.listen(ctx, listenURL)
		cancel()
		if err == nil {
			return l, gen, h.adopt(l, gen)
		}
		h.log.Warn("live: the NOTIFY listener cannot reconnect yet", "err", err)
		select {
		case <-h.ctx.Done():
			return nil, nil, false
		case <-time.After(backoff):
		}
	}
}

// adopt makes l the current listener and the feed up on a new epoch; false when the hub has
// stopped meanwhile (l is then closed, never waited for).
func (h *Hub) adopt(l *pq.Listener, gen *generation) bool {
	h.mu.Lock()
	stopped := h.stopped
	if !stopped {
		h.listener = l
	}
	h.mu.Unlock()
	if stopped {
		gen.cancel()
		go func() { _ = l.Close() }()
		return false
	}
	h.feedUp(newEpoch(), position{})
	return true
}

// keepAlive pings every socket each KeepAlive (session.ping).
func (h *Hub) keepAlive() {
	defer h.wg.Done()
	h.tick(h.cfg.KeepAlive, func() bool {
		for _, s := range h.liveSessions() {
			if s.kind == wsSession {
				s.ping(h.cfg.WriteTimeout)
			}
		}
		return true
	})
}

// tick calls f every d until the hub closes or f returns false.
func (h *Hub) tick(d time.Duration, f func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			if !f() {
				return
			}
		}
	}
}

// applicationName names the feed's connection in pg_stat_activity.
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

func (h *Hub) listenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected:
		h.feedDown(err)
	case pq.ListenerEventReconnected:
		h.log.Info("live: the listener reconnected")
		if h.hooks.ListenerReconnected != nil {
			h.hooks.ListenerReconnected()
		}
		h.feedUp(newEpoch(), position{})
	case pq.ListenerEventConnectionAttemptFailed:
		h.log.Warn("live: the listener cannot reconnect yet", "err", err)
	}
}

// dispatch numbers each notification of gen's listener in the order PostgreSQL delivers them
// (commit order) and hands it over.
func (h *Hub) dispatch(l *pq.Listener, gen *generation) {
	defer h.wg.Done()
	for {
		var n *pq.Notification
		var ok bool
		select {
		case n, ok = <-l.Notify:
			if !ok {
				return
			}
		case <-gen.ctx.Done():
			return
		}
		if n == nil { // after a reconnect: listenerEvent has handled it
			continue
		}
		h.mu.Lock()
		h.feed.seq++
		epoch, seq := h.feed.epoch, h.feed.seq
		h.mu.Unlock()
		if strings.HasPrefix(n.Extra, `{"barrier":`) {
			var b struct{ Barrier string }
			if json.Unmarshal([]byte(n.Extra), &b) == nil {
				h.barrierSeen(b.Barrier, after(epoch, seq))
			}
			continue
		}
		note, err := db.ParseNotification(n.Extra)
		if err != nil {
			h.log.Warn("live: ignoring a notification", "err", err)
			continue
		}
		h.receive(epoch, seq, 0, []db.Notification{note})
	}
}
