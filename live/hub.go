package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// Topic is what a subscription hears: the user's task changes or tag changes.
type Topic uint8

const (
	TaskEvents Topic = iota + 1
	TagEvents
)

func topicOf(k db.ChangeKind) Topic {
	if k == db.KindTag {
		return TagEvents
	}
	return TaskEvents
}

// Event is one committed change as its user's subscribers receive it. Subscribers of one user
// share it: it must not be modified.
type Event struct {
	Op   db.ChangeOp
	ID   uuid.UUID
	At   time.Time // when the writing transaction ran (its rows' timestamps), UTC
	Task *db.Task  // TaskEvents: the task as loaded after the commit; nil for OpDeleted
	Tag  *db.Tag   // TagEvents: likewise
	// Cursor is the change's position, opaque: SubscribeAfter resumes after it.
	Cursor string

	pos      position
	mu       sync.Mutex
	rendered map[reflect.Type]any   // the event as each reader type sees it, converted once
	shared   map[string]*sharedPart // Share's results by key (share.go)
}

// render converts ev once per reader type: every subscriber of the user shares the result.
func render[M any](ev *Event, convert func(*Event) M) M {
	t := reflect.TypeFor[M]()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if m, ok := ev.rendered[t]; ok {
		return m.(M)
	}
	m := convert(ev)
	if ev.rendered == nil {
		ev.rendered = map[reflect.Type]any{}
	}
	ev.rendered[t] = m
	return m
}

// Why a subscription ended (Subscription.Err). nil: its reader left.
var (
	// ErrTooManySubscriptions: SUBSCRIPTIONS_PER_USER or SUBSCRIPTIONS_MAX are open already.
	ErrTooManySubscriptions = errors.New("too many subscriptions")
	// ErrEventsLost: events may have been missed (the listener's connection was lost, or its
	// queue overflowed): refetch, then subscribe again.
	ErrEventsLost = errors.New("events may have been lost")

	// ErrShuttingDown: the server is stopping; what was committed before has been delivered.
	ErrShuttingDown = errors.New("the server is shutting down")
	// ErrTokenExpired: the token the subscription was opened with has expired (SSE; a WebSocket
	// closes with 4403 token_expired instead).
	ErrTokenExpired = errors.New("the token has expired")
	// ErrSlowConsumer: the subscriber did not read its events fast enough; its connection is cut.
	ErrSlowConsumer = errors.New("subscriber too slow")
	// ErrDrained: shutdown on a WebSocket: the buffer was handed over, and the socket will close
	// with 1001 once the transport has written it (Subscription.Flushed), so the client
	// reconnects and subscribes again without seeing an error.
	ErrDrained = errors.New("drained for shutdown")
)

// Config bounds the hub. Zero fields take the defaults.
type Config struct {
	PerUser int // SUBSCRIPTIONS_PER_USER: open at once per user (20)
	Max     int // SUBSCRIPTIONS_MAX: open at once on this replica (10,000)
	Buffer  int // events a subscription holds for its reader (256)
	// SlowReader is how long a full buffer waits for its reader: a reader that has not taken an
	// event by then is disconnected (1s). A burst (a deleted tag on thousands of tasks) is thus
	// fed at the reader's pace, and one stuck reader delays its worker's users once, by this much.
	SlowReader  time.Duration
	KeepAlive   time.Duration // WebSocket ping and SSE comment interval (25s)
	InitTimeout time.Duration // wait for a WebSocket's connection_init (10s)
	// WriteTimeout bounds one WebSocket write; a socket that takes longer is dropped (10s).
	WriteTimeout time.Duration
	// Workers load rows and deliver events; each takes one user's pending changes at a time, so a
	// user's changes stay in order and one user's volume occupies one worker at most (8).
	Workers int
	// Queue is the changes waiting per user; beyond, that user's subscriptions (only theirs) end
	// with ErrEventsLost (1024).
	Queue int

	// Feed is LIVE_FEED: FeedAuto (logical replication when wal_level=logical and the publication
	// exists, else NOTIFY), FeedLogical (required) or FeedNotify.
	Feed FeedKind
	// FeedTimeout is how long the feed's connection may stay silent before it counts as dead:
	// every subscriber is told (ErrEventsLost) and it reconnects (30s).
	FeedTimeout time.Duration
	// ResumeWindow and ResumeChanges bound what SubscribeAfter can resume from: the changes of
	// the last ResumeWindow, at most ResumeChanges of them (LIVE_RESUME_WINDOW: 60s, 10,000).
	ResumeWindow  time.Duration
	ResumeChanges int
	// SocketsPerUser bounds one user's authenticated WebSockets and SSE streams (bounds.go).
	SocketsPerUser int
}

const (
	DefaultPerUser = 20
	DefaultMax     = 10000
)

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.PerUser, DefaultPerUser)
	def(&c.Max, DefaultMax)
	def(&c.Buffer, 64)
	def(&c.Workers, 8)
	def(&c.Queue, 1024)
	def(&c.ResumeChanges, 10000)
	defDur(&c.FeedTimeout, 30*time.Second)
	defDur(&c.ResumeWindow, 60*time.Second)
	if c.Feed == "" {
		c.Feed = FeedAuto
	}
	defDur(&c.SlowReader, time.Second)
	defDur(&c.KeepAlive, 25*time.Second)
	defDur(&c.InitTimeout, 10*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	return c
}

// Hooks lets the server count without this package importing a metrics library. Every field is
// optional.
type Hooks struct {
	Subscriptions       func(delta int) // a subscription opened (+1) or ended (-1)
	Delivered           func(n int)     // events queued for subscribers
	Dropped             func(n int)     // events a subscriber could not take (it is disconnected)
	ListenerReconnected func()          // the listener's connection came back
	Replayed            func(n int)     // events a resumed subscription got from the window
}

// Hub is one replica's live updates: the change feed, the workers and every open subscription.
type Hub struct {
	store *db.Store
	cfg   Config
	hooks Hooks
	log   *slog.Logger

	ctx    context.Context // the workers' loads and the feed; cancelled by Close
	cancel context.CancelFunc

	mu       sync.Mutex
	work     *sync.Cond // signalled when runq gets a user
	users    map[uuid.UUID]*userState
	runq     []*userState // users with changes to handle, each once, in turn
	open     int
	closing  bool // Shutdown has begun
	stopped  bool // Close: the workers return
	sessions map[*session]struct{}
	barriers map[string]chan position
	feed     feedState
	// Start positions (sharedStart): the batch to read next, and whether a reader is running.
	nextStart    *startBatch
	startSending bool
	window       window
	sockets      socketCounts // per user (bounds.go)

	listener *pq.Listener // the NOTIFY fallback's current connection
	wg       sync.WaitGroup
}

// NewHub returns a hub loading rows through store. Start connects its listener.
func NewHub(store *db.Store, cfg Config, hooks Hooks, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		store: store, cfg: cfg.withDefaults(), hooks: hooks, log: log,
		ctx: ctx, cancel: cancel,
		users:    map[uuid.UUID]*userState{},
		sessions: map[*session]struct{}{},
		barriers: map[string]chan position{},
	}
	h.work = sync.NewCond(&h.mu)
	return h
}

// Config returns the hub's configuration with the defaults filled in.
func (h *Hub) Config() Config { return h.cfg }

// Open is the number of open subscriptions.
func (h *Hub) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// Subscribe opens a subscription to topic for the context's user (auth.UserFrom), from now on
// (exactly the changes committed after the call), and returns it with the channel its events
// arrive on, each converted by convert (once per event: subscribers share the result). The channel
// is closed when the subscription ends (Err says why), after the events it still holds (dropped
// instead after ErrTokenExpired and ErrSlowConsumer); it ends by itself when ctx is done. It fails
// with ErrTooManySubscriptions over a limit.
func Subscribe[M any](ctx context.Context, h *Hub, topic Topic, convert func(*Event) M) (*Subscription, <-chan M, error) {
	return SubscribeAfter(ctx, h, topic, "", convert)
}

// SubscribeAfter is Subscribe resuming after cursor (an Event.Cursor; "" is now): the changes
// after it that the resume window still holds come first, none lost or repeated. A cursor
// beyond the window ends the subscription at once with ErrEventsLost; one that is not a cursor
// fails with ErrBadCursor.
func SubscribeAfter[M any](ctx context.Context, h *Hub, topic Topic, cursor string, convert func(*Event) M) (*Subscription, <-chan M, error) {
	var from *position
	if cursor != "" {
		p, err := parseCursor(cursor)
		if err != nil {
			return nil, nil, err
		}
		from = &p
	}
	out := make(chan M, h.cfg.Buffer)
	s, err := h.subscribe(ctx, topic, from, &chanSink[M]{out: out, convert: convert})
	if err != nil {
		return nil, nil, err
	}
	context.AfterFunc(ctx, s.Close)
	return s, out, nil
}

func (h *Hub) subscribe(ctx context.Context, topic Topic, from *position, sk sink) (*Subscription, error) {
	u, ok := auth.UserFrom(ctx)
	if !ok || u.UUID == uuid.Nil {
		return nil, errors.New("live: subscribe without a user")
	}
	if err := h.checkLimits(u.UUID); err != nil { // before the start position costs a round trip
		return nil, err
	}
	// Where it starts: a cursor, or the feed's position now, taken before it is registered.
	start, startErr := position{}, error(nil)
	if from != nil {
		start = *from
	} else {
		start, startErr = h.startPosition(ctx)
	}
	sess := sessionFrom(ctx)
	s := &Subscription{hub: h, user: u.UUID, topic: topic, session: sess, sink: sk, done: make(chan struct{}), from: start}

	lost, err := h.register(s, startErr == nil)
	if err != nil {
		return nil, err
	}
	if h.hooks.Subscriptions != nil {
		h.hooks.Subscriptions(1)
	}
	sess.streaming() // an SSE response streams from now on (bounds.go)
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	switch {
	case closing:
		s.end(drainErr(sess))
	case lost:
		s.end(ErrEventsLost)
	case !u.Expiry.IsZero() && (sess == nil || sess.kind != wsSession):
		// A WebSocket closes at expiry as a whole (4403); anything else ends here.
		t := time.AfterFunc(time.Until(u.Expiry), func() { s.end(ErrTokenExpired) })
		s.mu.Lock()
		s.expiry = t
		s.mu.Unlock()
	}
	return s, nil
}

// checkLimits fails with ErrTooManySubscriptions when user may not open another subscription.
func (h *Hub) checkLimits(user uuid.UUID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.overLimit(h.users[user])
}

// overLimit is checkLimits for a user's state (nil: none yet). h.mu is held.
func (h *Hub) overLimit(us *userState) error {
	switch {
	case h.open >= h.cfg.Max:
		return fmt.Errorf("%w: this server has %d open, its limit (SUBSCRIPTIONS_MAX); try again later", ErrTooManySubscriptions, h.cfg.Max)
	case us != nil && len(us.subs) >= h.cfg.PerUser:
		return fmt.Errorf("%w: you have %d open, the limit per user (SUBSCRIPTIONS_PER_USER); close one first", ErrTooManySubscriptions, h.cfg.PerUser)
	}
	return nil
}

// drainErr is how Shutdown ends a subscription: quietly on a WebSocket (the socket's 1001 tells
// the client to reconnect), with an error elsewhere.
func drainErr(sess *session) error {
	if sess != nil && sess.kind == wsSession {
		return ErrDrained
	}
	return ErrShuttingDown
}

func (h *Hub) unregister(s *Subscription) {
	h.mu.Lock()
	us := h.users[s.user]
	if us == nil {
		h.mu.Unlock()
		return
	}
	if _, ok := us.subs[s]; !ok {
		h.mu.Unlock()
		return
	}
	delete(us.subs, s)
	h.open--
	h.forget(us)
	h.mu.Unlock()
	if h.hooks.Subscriptions != nil {
		h.hooks.Subscriptions(-1)
	}
}

// endAll ends every subscription that match selects (all when nil) with err. Subscriptions
// are ended outside h.mu, since ending takes it.
func (h *Hub) endAll(match func(*Subscription) bool, err func(*Subscription) error) {
	h.mu.Lock()
	var all []*Subscription
	for _, us := range h.users {
		for s := range us.subs {
			if match == nil || match(s) {
				all = append(all, s)
			}
		}
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end(err(s))
	}
}

// Subscription is one open subscription of one user to one topic.
type Subscription struct {
	hub     *Hub
	user    uuid.UUID
	topic   Topic
	session *session // the connection it runs on; nil when called directly
	waiting bool     // opened while the feed was down: it ends with ErrEventsLost once it is back (h.mu)
	joined  bool     // its replay is done: the worker delivers the user's changes to it (h.mu)
	from    position // it hears the changes after this one
	sink    sink
	done    chan struct{} // closed when the subscription ends

	mu      sync.Mutex
	ended   bool
	err     error
	sending int  // deliveries waiting for room outside mu: the sink closes after the last one
	closed  bool // the sink is closed
	expiry  *time.Timer
}

// sink is where a subscription's events go: the reader's channel, of the reader's type.
type sink interface {
	// send converts ev and puts it in the channel, waiting until wait fires or done is closed
	// (a nil wait: not at all); false when it could not.
	send(ev *Event, done <-chan struct{}, wait <-chan time.Time) bool
	// close closes the channel, emptied first when drop is set.
	close(drop bool)
}

type chanSink[M any] struct {
	out     chan M
	convert func(*Event) M
}

func (c *chanSink[M]) send(ev *Event, done <-chan struct{}, wait <-chan time.Time) bool {
	m := render(ev, c.convert)
	if wait == nil {
		select {
		case c.out <- m:
			return true
		default:
			return false
		}
	}
	select {
	case c.out <- m:
		return true
	case <-done:
	case <-wait:
	}
	return false
}

func (c *chanSink[M]) close(drop bool) {
	for drop && len(c.out) > 0 {
		select {
		case <-c.out:
		default:
		}
	}
	close(c.out)
}

// Err says why the subscription ended: nil while it is open, and after Close.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription because its reader has left; later calls do nothing.
func (s *Subscription) Close() { s.end(nil) }

// Flushed is called by the transport once it has written everything a subscription ended with
// ErrDrained handed over; it returns when ctx (the operation's) is done, i.e. when the socket
// closes.
func (s *Subscription) Flushed(ctx context.Context) {
	if s.session == nil {
		return
	}
	s.session.flushed(ctx)
}

func dropsEvents(err error) bool {
	return errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrSlowConsumer)
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.err = true, err
	close(s.done)
	closeNow := s.sending == 0 && !s.closed
	s.closed = s.closed || closeNow
	expiry := s.expiry
	s.mu.Unlock()
	if expiry != nil {
		expiry.Stop()
	}
	// Its place is free before the reader sees the channel close.
	s.hub.unregister(s)
	if closeNow {
		s.sink.close(dropsEvents(err))
	}
}

// deliver puts ev in the reader's channel, waiting up to SlowReader for room: a reader that does
// not take an event in that time is too slow, and its subscription ends and its connection is cut.
func (s *Subscription) deliver(ev *Event) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	if s.sink.send(ev, nil, nil) {
		s.mu.Unlock()
		s.delivered()
		return
	}
	s.sending++
	s.mu.Unlock()

	t := time.NewTimer(s.hub.cfg.SlowReader)
	sent := s.sink.send(ev, s.done, t.C)
	t.Stop()
	s.mu.Lock()
	s.sending--
	ended := s.ended
	closeNow := ended && s.sending == 0 && !s.closed
	s.closed = s.closed || closeNow
	err := s.err
	s.mu.Unlock()
	switch {
	case closeNow:
		s.sink.close(dropsEvents(err))
	case sent:
		s.delivered()
	case !ended:
		if s.hub.hooks.Dropped != nil {
			s.hub.hooks.Dropped(1)
		}
		s.hub.log.Warn("live: subscriber too slow, disconnecting", "user", s.user, "buffer", s.hub.cfg.Buffer)
		s.end(ErrSlowConsumer)
		if s.session != nil {
			s.session.disconnect(closeSlowConsumer, "slow_consumer")
		}
	}
}

// offer puts ev in the reader's channel if it has room now; false when the reader is behind
// (deliver then waits for it).
func (s *Subscription) offer(ev *Event) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return true
	}
	sent := s.sink.send(ev, nil, nil)
	s.mu.Unlock()
	if sent {
		s.delivered()
	}
	return sent
}

func (s *Subscription) delivered() {
	if s.hub.hooks.Delivered != nil {
		s.hub.hooks.Delivered(1)
	}
}
