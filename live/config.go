package live

import "time"

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
