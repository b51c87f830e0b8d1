package live

import "sync"

// MaxShared bounds the keys (document shapes) an event keeps a shared result for: a user's
// subscribers rarely use more than a few shapes, and beyond this many each further one is made
// for its caller alone, so an event's memory stays bounded whatever its subscribers ask.
const MaxShared = 8

type sharedPart struct {
	mu   sync.Mutex // held while the first caller makes it: the others wait for its result
	done bool
	v    any
}

// Share returns make's result for ev and key, made once: the subscribers of a user that give the
// same key (the same document shape) get the same result, a concurrent caller waiting for the
// first one's. make's ok=false keeps nothing (its caller's result is its own; the next caller
// makes it again). The result is shared: it must not be modified.
func Share[V any](ev *Event, key string, make func() (v V, ok bool)) V {
	ev.mu.Lock()
	p := ev.shared[key]
	if p == nil && len(ev.shared) < MaxShared {
		if ev.shared == nil {
			ev.shared = map[string]*sharedPart{}
		}
		p = &sharedPart{}
		ev.shared[key] = p
	}
	ev.mu.Unlock()
	if p == nil {
		v, _ := make()
		return v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.v.(V)
	}
	v, ok := make()
	if ok {
		p.v, p.done = v, true
	}
	return v
}
