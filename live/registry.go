package live

import (
	"fmt"

	"github.com/google/uuid"
)

// The registry: each user's open subscriptions, within SUBSCRIPTIONS_PER_USER and
// SUBSCRIPTIONS_MAX.

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

// forget drops a user's state once nothing refers to it. h.mu is held.
func (h *Hub) forget(us *userState) {
	if len(us.subs) == 0 && len(us.queue) == 0 && !us.scheduled && h.users[us.id] == us {
		delete(h.users, us.id)
	}
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
