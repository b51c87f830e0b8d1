package live

import "time"

// The resume window: the recent changes SubscribeAfter resumes from (LIVE_RESUME_WINDOW).

// window is the recent changes, oldest first: what SubscribeAfter resumes from. It holds every
// change after from, of the feed's current epoch.
type window struct {
	entries []*entry
	from    position
}

// replayFor is what the window holds of s's changes after s.from; false when the window cannot
// resume s (a cursor of another connection, or older than the window). h.mu is held.
func (h *Hub) replayFor(s *Subscription) ([]*entry, bool) {
	h.evict(time.Now())
	w := &h.window
	if s.from.epoch != h.feed.epoch || s.from.less(w.from) {
		return nil, false
	}
	var replay []*entry
	for _, e := range w.entries {
		if e.note.User == s.user && topicOf(e.note.Kind) == s.topic && s.from.less(e.last()) {
			replay = append(replay, e)
		}
	}
	return replay, true
}

// evict drops the window's changes older than ResumeWindow or beyond ResumeChanges. h.mu is held.
func (h *Hub) evict(now time.Time) {
	w := &h.window
	n := 0
	for n < len(w.entries) && (len(w.entries)-n > h.cfg.ResumeChanges || now.Sub(w.entries[n].added) > h.cfg.ResumeWindow) {
		w.from = w.entries[n].last()
		n++
	}
	if n > 0 {
		clear(w.entries[:n])
		w.entries = w.entries[n:]
	}
}
