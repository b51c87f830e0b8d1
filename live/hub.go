package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

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

// drainErr is how Shutdown ends a subscription: quietly on a WebSocket (the socket's 1001 tells
// the client to reconnect), with an error elsewhere.
func drainErr(sess *session) error {
	if sess != nil && sess.kind == wsSession {
		return ErrDrained
	}
	return ErrShuttingDown
}
