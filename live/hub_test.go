package live_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// env is a hub on a fresh database, its reads counted, and users signed in with real tokens.
type env struct {
	t      *testing.T
	url    string
	x      *sqlx.DB      // for the writes (not counted)
	loads  *atomic.Int64 // statements the hub sent
	hubDB  *sqlx.DB      // the hub's pool
	hub    *live.Hub
	store  *db.Store
	issuer *testkit.Issuer
	v      *auth.Verifier
}

func newEnv(t *testing.T, cfg live.Config, listenURL func(dbURL string) string) *env {
	t.Helper()
	url := testkit.NewDBURL(t)
	return newEnvRouted(t, url, testkit.Route(t, url), cfg, listenURL)
}

// newEnvOn is newEnv on the database at dbURL (a private cluster's, not behind TEST_POOLER's
// PgBouncer, which serves the shared one); writes send NOTIFY only when the hub runs the NOTIFY
// fallback, as serve's do.
func newEnvOn(t *testing.T, dbURL string, cfg live.Config, listenURL func(dbURL string) string) *env {
	t.Helper()
	return newEnvRouted(t, dbURL, dbURL, cfg, listenURL)
}

// newEnvRouted: the pool on routed, the listener on dbURL (direct).
func newEnvRouted(t *testing.T, dbURL, routed string, cfg live.Config, listenURL func(dbURL string) string) *env {
	t.Helper()
	e := &env{t: t, url: dbURL}
	var err error
	if e.x, err = sqlx.Open("postgres", routed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.x.Close() })
	counted, n := testkit.CountingDB(t, routed)
	e.loads, e.hubDB = n, counted
	e.store = db.NewStore(e.x)
	logs := &testkit.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the hub's log:\n%s", logs.String())
		}
	})
	e.hub = live.NewHub(db.NewStore(counted), cfg, live.Hooks{}, slog.New(slog.NewTextHandler(logs, nil)))
	lu := e.url
	if listenURL != nil {
		lu = listenURL(e.url)
	}
	if err := e.hub.Start(context.Background(), lu); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.hub.Close(); testkit.WaitSlotsGone(t, e.x.DB) })
	e.store.LogicalFeed = e.hub.Feed().Kind == live.FeedLogical
	e.issuer = testkit.NewIssuer(t, "EdDSA")
	e.v = e.issuer.Verifier(t, nil)
	return e
}

// user creates a user and returns a context authenticated as them, as the middleware does.
func (e *env) user(name string) (uuid.UUID, context.Context) {
	e.t.Helper()
	u := auth.User{ID: name, Email: name + "@example.com", Name: name}
	u.UUID = testkit.CreateUser(e.t, e.x, u.ID, u.Email, u.Name)
	ctx, err := e.v.Authenticate(context.Background(), []string{"Bearer " + e.issuer.TokenFor(e.t, u)})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.UUID, ctx
}

// holdHubPool leaves the hub's pool one session and holds it: the workers' loads wait until
// release is called.
func (e *env) holdHubPool(t *testing.T) (release func()) {
	t.Helper()
	e.hubDB.SetMaxOpenConns(1)
	lock, err := e.hubDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Close() })
	return func() {
		if err := lock.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// hearsNewTask checks that a new subscription of user a hears the task a creates next (title),
// failing with when otherwise.
func (e *env) hearsNewTask(actx context.Context, a uuid.UUID, title, when string) {
	e.t.Helper()
	s := e.subscribe(actx, live.TaskEvents)
	task, err := e.store.CreateTask(context.Background(), a, db.NewTask{Title: title})
	if err != nil {
		e.t.Fatal(err)
	}
	if ev := next(e.t, s); ev.ID != task.ID {
		e.t.Fatalf("%s: %+v", when, ev)
	}
}

// sub is a subscription and the channel of its events, as a transport reads them.
type sub struct {
	*live.Subscription
	events <-chan *live.Event
}

func identity(ev *live.Event) *live.Event { return ev }

func (e *env) subscribe(ctx context.Context, topic live.Topic) sub {
	e.t.Helper()
	s, ch, err := live.Subscribe(ctx, e.hub, topic, identity)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return sub{s, ch}
}

func next(t *testing.T, s sub) *live.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("no event: ended with %v", s.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return nil
}

func ended(t *testing.T, s sub, want error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if ok {
				t.Logf("an event before the end: %+v", ev)
				continue
			}
			if !errors.Is(s.Err(), want) {
				t.Fatalf("ended with %v, want %v", s.Err(), want)
			}
			return
		case <-deadline:
			t.Fatalf("not ended within 10s (want %v)", want)
		}
	}
}

// A changed row is loaded once per user on a replica, however many of that user's
// subscriptions there are; users without subscribers cost nothing.
func TestRowsAreLoadedOncePerUser(t *testing.T) {
	e := newEnv(t, live.Config{}, nil)
	a, actx := e.user("a")
	b, bctx := e.user("b")
	c, _ := e.user("c")
	bsub := e.subscribe(bctx, live.TaskEvents)

	cost := func(subs int) int64 {
		t.Helper()
		var ss []sub
		for range subs {
			ss = append(ss, e.subscribe(actx, live.TaskEvents))
		}
		e.subscribe(actx, live.TagEvents) // another topic: nothing to load for it
		if err := e.hub.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.loads.Store(0)
		task, err := e.store.CreateTask(context.Background(), a, db.NewTask{Title: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateTask(context.Background(), c, db.NewTask{Title: "nobody listens"}); err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if ev := next(t, s); ev.ID != task.ID || ev.Task.Title != "x" {
				t.Fatalf("event %+v", ev)
			}
		}
		if err := e.hub.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := e.loads.Load() - 1 // Sync's own NOTIFY
		for _, s := range ss {
			s.Close()
		}
		return n
	}
	one, five := cost(1), cost(5)
	t.Logf("statements to deliver one change: %d for 1 subscriber, %d for 5", one, five)
	if one != five || one == 0 {
		t.Fatalf("%d statements for one subscriber, %d for five: want the same, once", one, five)
	}
	select {
	case ev := <-bsub.events:
		t.Fatalf("B got A's event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	_ = b
}

// While the listener cannot reconnect, open subscriptions have ended with ErrEventsLost; one
// opened meanwhile waits, and ends with ErrEventsLost once the listener is back (what was
// committed in between was not heard); after that, subscriptions hear changes again.
func TestSubscriptionOpenedWhileTheListenerIsDown(t *testing.T) {
	var p *testkit.TCPProxy
	e := newEnv(t, live.Config{}, func(dbURL string) string {
		p = testkit.NewTCPProxy(t, hostOf(t, dbURL))
		return p.URL(t, dbURL)
	})
	a, actx := e.user("a")
	before := e.subscribe(actx, live.TaskEvents)

	p.SetDown(true)
	p.Cut()
	ended(t, before, live.ErrEventsLost)
	during := e.subscribe(actx, live.TaskEvents)
	if _, err := e.store.CreateTask(context.Background(), a, db.NewTask{Title: "unheard"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the listener tries to reconnect, and is refused
	select {
	case ev := <-during.events:
		t.Fatalf("an event while the listener was down: %+v", ev)
	default:
	}
	p.SetDown(false)
	ended(t, during, live.ErrEventsLost)

	e.hearsNewTask(actx, a, "heard", "after the reconnect")
}

// When a user's changes pile up beyond Queue (the worker's loads blocked), that user's
// subscriptions end with ErrEventsLost instead of the feed stalling everyone, and the hub goes on.
func TestWorkerQueueOverflowEndsWithEventsLost(t *testing.T) {
	e := newEnv(t, live.Config{Workers: 1, Queue: 2}, nil)
	a, actx := e.user("a")
	sub := e.subscribe(actx, live.TaskEvents)

	// Block the worker's loads: the hub's pool has one session, held here, while changes pile up.
	ctx := context.Background()
	release := e.holdHubPool(t)
	for i := range 10 {
		if _, err := e.store.CreateTask(ctx, a, db.NewTask{Title: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ended(t, sub, live.ErrEventsLost)
	release()
	if err := e.hub.Sync(ctx); err != nil { // the overflowed notifications are behind us
		t.Fatal(err)
	}
	e.hearsNewTask(actx, a, "later", "after the overflow")
}

// The limits, and a closed subscription freeing its place.
func TestLimits(t *testing.T) {
	e := newEnv(t, live.Config{PerUser: 2, Max: 3}, nil)
	_, actx := e.user("a")
	_, bctx := e.user("b")
	s1 := e.subscribe(actx, live.TaskEvents)
	e.subscribe(actx, live.TagEvents)
	if _, _, err := live.Subscribe(actx, e.hub, live.TaskEvents, identity); !errors.Is(err, live.ErrTooManySubscriptions) {
		t.Fatalf("third of A: %v", err)
	}
	e.subscribe(bctx, live.TaskEvents)
	if _, _, err := live.Subscribe(bctx, e.hub, live.TaskEvents, identity); !errors.Is(err, live.ErrTooManySubscriptions) {
		t.Fatalf("fourth on the server: %v", err)
	}
	s1.Close()
	e.subscribe(bctx, live.TaskEvents)

	if e.hub.Open() != 3 {
		t.Fatalf("open = %d", e.hub.Open())
	}
}

// A subscription opened with a token ends with ErrTokenExpired at its expiry (outside a
// WebSocket, which closes as a whole).
func TestSubscriptionEndsAtTokenExpiry(t *testing.T) {
	e := newEnv(t, live.Config{}, nil)
	u := auth.User{ID: "a", Email: "a@example.com"}
	u.UUID = testkit.CreateUser(t, e.x, u.ID, u.Email, "A")
	c := e.issuer.Claims(u)
	c["exp"] = time.Now().Add(time.Second).Unix()
	cfg := e.issuer.Config()
	cfg.ClockSkew = time.Second
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
	testkit.WaitKeysLoaded(t, v)
	ctx, aerr := v.Authenticate(context.Background(), []string{"Bearer " + e.issuer.Sign(t, c, nil)})
	if aerr != nil {
		t.Fatal(aerr)
	}
	s := e.subscribe(ctx, live.TaskEvents)
	ended(t, s, live.ErrTokenExpired)
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }

// A subscription ends with its context (the operation's: the client stopped it or left), and
// its place is free again.
func TestSubscriptionEndsWithItsContext(t *testing.T) {
	e := newEnv(t, live.Config{}, nil)
	_, actx := e.user("a")
	ctx, cancel := context.WithCancel(actx)
	s, ch, err := live.Subscribe(ctx, e.hub, live.TaskEvents, identity)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	ended(t, sub{s, ch}, nil)
	if s.Err() != nil || e.hub.Open() != 0 {
		t.Fatalf("after cancel: err %v, open %d", s.Err(), e.hub.Open())
	}
}
