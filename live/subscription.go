package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

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
