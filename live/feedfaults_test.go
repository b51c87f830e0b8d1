package live_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// Faults of the change feed. In each, a writer commits tasks numbered 0, 1, 2... throughout; a
// subscription open across the fault either hears every one of them in order or ends with
// ErrEventsLost, never silently skipping one; and once the feed is back a new subscription hears
// the writes again.

// writer commits numbered tasks for user until stopped; failed commits (PostgreSQL down) are
// retried under the same number, so numbers are acknowledged in order.
type writer struct {
	acked atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

func startWriter(t *testing.T, e *env, user uuid.UUID) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := int64(0); ; {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := e.store.CreateTask(ctx, user, db.NewTask{Title: strconv.FormatInt(i, 10)})
			cancel()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue // not acknowledged: it may or may not have committed; the next try is another task
			}
			i++
			w.acked.Store(i)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// watcher reads a subscription in the background, checking that its tasks follow each other.
type watcher struct {
	s      sub
	mu     sync.Mutex
	last   int64
	n      int
	gaps   []string
	closed chan struct{}
}

func watch(s sub) *watcher {
	w := &watcher{s: s, last: -1, closed: make(chan struct{})}
	go func() {
		defer close(w.closed)
		for ev := range s.events {
			if ev.Task == nil {
				continue
			}
			n, _ := strconv.ParseInt(ev.Task.Title, 10, 64)
			w.mu.Lock()
			if w.last >= 0 && n != w.last+1 {
				w.gaps = append(w.gaps, strconv.FormatInt(w.last, 10)+" then "+strconv.FormatInt(n, 10))
			}
			w.last, w.n = n, w.n+1
			w.mu.Unlock()
		}
	}()
	return w
}

// heard is how many events the watcher has heard.
func (w *watcher) heard() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// hearsPast waits until the watcher has heard more than n events: the feed flows to it.
func (w *watcher) hearsPast(t *testing.T, n int) {
	t.Helper()
	testkit.WaitFor(t, "the subscription to hear the writer", 20*time.Second, func() bool { return w.heard() > n })
}

// readUpTo waits, up to 20 s, until the watcher has read task last or its subscription has
// ended: Sync leaves the events in the subscription's buffer, and the watcher reads them on a
// goroutine of its own.
func (w *watcher) readUpTo(last int64) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		done := w.last >= last
		w.mu.Unlock()
		select {
		case <-w.closed:
			return
		default:
		}
		if done {
			return
		}
	}
}

// endedLost waits for the subscription to end with ErrEventsLost, its events having followed each
// other until then, within limit.
func (w *watcher) endedLost(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-w.closed:
	case <-time.After(limit):
		t.Fatalf("the subscription was not told within %s (it heard %d events)", limit, w.n)
	}
	if err := w.s.Err(); !errors.Is(err, live.ErrEventsLost) {
		t.Fatalf("ended with %v, want ErrEventsLost", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.gaps) > 0 {
		t.Fatalf("events skipped before the end: %v", w.gaps)
	}
}

// hears waits until a new subscription hears a task acknowledged after it opened.
func hears(t *testing.T, e *env, ctx context.Context, wr *writer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if !e.hub.Feed().Up {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		from := wr.acked.Load() // acknowledged before the subscription opens
		s, ch, err := live.Subscribe(ctx, e.hub, live.TaskEvents, identity)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case ev, ok := <-ch:
			s.Close()
			if !ok {
				continue // the feed went down again meanwhile
			}
			if n, _ := strconv.ParseInt(ev.Task.Title, 10, 64); n < from {
				t.Fatalf("a new subscription heard task %d, acknowledged before it opened (%d)", n, from)
			}
			return
		case <-time.After(5 * time.Second):
			s.Close()
		}
	}
	t.Fatalf("no subscription heard the writes within 30s; feed %+v", e.hub.Feed())
}

// writerHeard starts a writer for user a and a subscription of a's that has heard it.
func writerHeard(t *testing.T, e *env) (context.Context, *writer, *watcher) {
	t.Helper()
	a, actx := e.user("a")
	wr := startWriter(t, e, a)
	w := watch(e.subscribe(actx, live.TaskEvents))
	w.hearsPast(t, 0)
	return actx, wr, w
}

// The replication connection is killed, and the slot dropped as an operator would (terminate
// the WAL sender, drop the slot): subscribers are told, the feed makes a new slot and hears again.
func TestLogicalFeedConnectionKilledAndSlotDropped(t *testing.T) {
	e, pg := newLogicalEnv(t, live.Config{}, nil)
	actx, wr, w := writerHeard(t, e)
	// An active slot cannot be dropped: its WAL sender goes first, then the slot if still there.
	count(t, superuser(t, pg, e.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL`))
	count(t, superuser(t, pg, e.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active`))
	w.endedLost(t, 10*time.Second)
	hears(t, e, actx, wr)
	if all, tmp := slots(t, pg, e.url); all != 1 || tmp != 1 {
		t.Fatalf("after the reconnect: %d slots, %d temporary; want one temporary", all, tmp)
	}
}

// PostgreSQL restarts: subscribers are told, /readyz's source (Feed) says the feed is down, and
// it comes back by itself.
func TestLogicalFeedPostgresRestarted(t *testing.T) {
	e, pg := newLogicalEnv(t, live.Config{}, nil)
	actx, wr, w := writerHeard(t, e)
	pg.Stop(t)
	w.endedLost(t, 10*time.Second)
	if f := e.hub.Feed(); f.Up || f.Err == "" {
		t.Fatalf("feed with PostgreSQL down: %+v", f)
	}
	pg.Start(t)
	hears(t, e, actx, wr)
}

// The publication is dropped: subscribers are told, the feed stays down saying why, and comes
// back once the publication is there again.
func TestLogicalFeedPublicationMissing(t *testing.T) {
	e, _ := newLogicalEnv(t, live.Config{}, nil)
	actx, wr, w := writerHeard(t, e)
	if _, err := e.x.Exec(`DROP PUBLICATION ` + db.Publication); err != nil {
		t.Fatal(err)
	}
	w.endedLost(t, 10*time.Second)
	testkit.WaitFor(t, "the feed to say the publication is missing", 20*time.Second, func() bool {
		f := e.hub.Feed()
		return !f.Up && strings.Contains(f.Err, db.Publication)
	})
	if _, err := e.x.Exec(`CREATE PUBLICATION ` + db.Publication + ` FOR TABLE tasks, tags, task_tags`); err != nil {
		t.Fatal(err)
	}
	hears(t, e, actx, wr)
}

// The replication connection goes silent, TCP up (a proxy that forwards nothing): within
// FeedTimeout every subscriber is told, and the feed reconnects. Close does not wait on a silent
// connection.
func TestLogicalFeedSilent(t *testing.T) {
	var p *testkit.TCPProxy
	pg := testkit.StartLogicalPostgres(t)
	e := newEnvOn(t, pg.NewDBURL(t), live.Config{FeedTimeout: 1500 * time.Millisecond}, func(dbURL string) string {
		p = testkit.NewTCPProxy(t, hostOf(t, dbURL))
		return p.URL(t, dbURL)
	})
	silent(t, e, p)
}

// The NOTIFY fallback's listener goes silent: the same.
func TestNotifyFeedSilent(t *testing.T) {
	var p *testkit.TCPProxy
	e := newEnv(t, live.Config{FeedTimeout: 1500 * time.Millisecond}, func(dbURL string) string {
		p = testkit.NewTCPProxy(t, hostOf(t, dbURL))
		return p.URL(t, dbURL)
	})
	if e.hub.Feed().Kind != live.FeedNotify {
		t.Skip("the shared cluster runs wal_level=logical: TestLogicalFeedSilent covers it")
	}
	silent(t, e, p)
}

func silent(t *testing.T, e *env, p *testkit.TCPProxy) {
	a, actx := e.user("a")
	wr := startWriter(t, e, a)
	subs := []*watcher{watch(e.subscribe(actx, live.TaskEvents)), watch(e.subscribe(actx, live.TaskEvents))}
	for _, w := range subs {
		w.hearsPast(t, 0)
	}
	p.Silence()
	start := time.Now()
	for _, w := range subs {
		w.endedLost(t, 3*time.Second+e.hub.Config().FeedTimeout)
	}
	t.Logf("silence noticed, every subscriber told, after %s (FeedTimeout %s)", time.Since(start).Round(time.Millisecond), e.hub.Config().FeedTimeout)
	hears(t, e, actx, wr)

	p.Silence()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() { e.hub.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close waited on a silent connection")
	}
}

func hostOf(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := urlParse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// A replica dies with subscribers open: its temporary slot goes with its connection (no WAL kept
// for it), and the other replica's subscribers hear every write.
func TestLogicalFeedReplicaKilled(t *testing.T) {
	e, pg := newLogicalEnv(t, live.Config{}, nil)
	other := live.NewHub(db.NewStore(e.x), live.Config{}, live.Hooks{}, nil)
	if err := other.Start(context.Background(), e.url); err != nil {
		t.Fatal(err)
	}
	a, actx := e.user("a")
	_, _, err := live.Subscribe(actx, other, live.TaskEvents, identity)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := slots(t, pg, e.url); all != 2 {
		t.Fatalf("%d slots for two replicas", all)
	}
	wr := startWriter(t, e, a)
	w := watch(e.subscribe(actx, live.TaskEvents))
	w.hearsPast(t, 0)
	other.Close() // its connection ends, as when the process dies
	testkit.WaitFor(t, "the dead replica's slot to go", 20*time.Second, func() bool { all, _ := slots(t, pg, e.url); return all == 1 })
	w.hearsPast(t, w.heard()) // writes go on being heard after the death
	wr.halt()
	if err := e.hub.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.readUpTo(wr.acked.Load() - 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.gaps) > 0 || w.s.Err() != nil || w.last != wr.acked.Load()-1 {
		t.Fatalf("the live replica's subscriber: last %d of %d acknowledged, gaps %v, ended %v", w.last, wr.acked.Load(), w.gaps, w.s.Err())
	}
}

// One user's volume and slow readers do not hold up another user: A's subscriptions never read
// (their buffers fill and the worker waits SlowReader for them) while A floods; B's events arrive
// all the same, while A's readers are still being waited for. When A's queue overflows, only A's
// subscriptions end with ErrEventsLost.
func TestOneUsersFloodLeavesOthersAlone(t *testing.T) {
	e := newEnv(t, live.Config{Workers: 2, Buffer: 1, SlowReader: 20 * time.Second, Queue: 16}, nil)
	a, actx := e.user("a")
	b, bctx := e.user("b")
	var stuck []sub
	for range 3 {
		stuck = append(stuck, e.subscribe(actx, live.TaskEvents)) // never read
	}
	bs := e.subscribe(bctx, live.TaskEvents)
	ctx := context.Background()
	for i := range 40 {
		if _, err := e.store.CreateTask(ctx, a, db.NewTask{Title: "a" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		task, err := e.store.CreateTask(ctx, b, db.NewTask{Title: "b" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, bs); ev.ID != task.ID {
			t.Fatalf("B's event %d: %+v, want %s", i, ev, task.ID)
		}
	}
	for i, s := range stuck {
		if err := s.Err(); err != nil && !errors.Is(err, live.ErrEventsLost) {
			t.Fatalf("A's subscription %d: %v", i, err)
		}
	}
	for _, s := range stuck {
		ended(t, s, live.ErrEventsLost) // A's queue (16) overflowed behind its stuck readers
	}
	if err := bs.Err(); err != nil {
		t.Fatalf("B's subscription ended: %v", err)
	}
}
