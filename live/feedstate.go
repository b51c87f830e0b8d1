package live

// The feed's state: what it reports (Feed), and its connection coming up and going down.

// FeedStatus is the feed as /readyz and the start-up log show it.
type FeedStatus struct {
	Kind   FeedKind
	Reason string // why this kind was chosen
	Up     bool   // connected and hearing changes
	Err    string // why it is down
}

// Feed returns the feed's status.
func (h *Hub) Feed() FeedStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return FeedStatus{Kind: h.feed.kind, Reason: h.feed.reason, Up: h.feed.up, Err: h.feed.err}
}

// feedState is what the feed reports (Feed).
type feedState struct {
	kind   FeedKind
	reason string // why this kind (the fallback's cause, the setting that switches it)
	up     bool
	err    string // why it is down
	epoch  uint64
	seq    uint64 // the NOTIFY fallback's count of notifications on this connection
}

// feedUp: the feed hears every change after from, on a new epoch (a new connection). The
// subscriptions opened while it was down end with ErrEventsLost.
func (h *Hub) feedUp(epoch uint64, from position) {
	h.mu.Lock()
	h.feed.up, h.feed.err, h.feed.epoch, h.feed.seq = true, "", epoch, 0
	h.window = window{from: from}
	h.mu.Unlock()
	h.endAll(func(s *Subscription) bool { return s.waiting }, func(*Subscription) error { return ErrEventsLost })
}

// feedDown: the feed lost its connection (or its silence was taken for a loss): every open
// subscription ends with ErrEventsLost, the window and the queues are dropped.
func (h *Hub) feedDown(err error) {
	h.mu.Lock()
	wasUp := h.feed.up
	h.feed.up = false
	if err != nil {
		h.feed.err = err.Error()
	}
	h.window = window{}
	for _, us := range h.users {
		for _, it := range us.queue {
			if it.barrier != nil {
				it.barrier.Done()
			}
		}
		us.queue = nil
	}
	h.mu.Unlock()
	if wasUp {
		h.log.Warn("live: the change feed lost its connection; open subscriptions end with EVENTS_LOST", "feed", h.feed.kind, "err", err)
	}
	h.endAll(nil, func(*Subscription) error { return ErrEventsLost })
}
