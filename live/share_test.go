package live_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/taskgraph/taskgraph/live"
)

// TestShareMakesOncePerKey: concurrent callers with one key get one result, made once; another
// key makes its own; a result not kept is made again; beyond MaxShared keys nothing is kept.
func TestShareMakesOncePerKey(t *testing.T) {
	ev := &live.Event{}
	var made atomic.Int64
	mk := func(v string) func() (string, bool) {
		return func() (string, bool) { made.Add(1); return v, true }
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := live.Share(ev, "a", mk("A")); got != "A" {
				t.Errorf("got %q, want A", got)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 1 {
		t.Fatalf("made %d times for one key, want 1", made.Load())
	}
	if got := live.Share(ev, "b", mk("B")); got != "B" || made.Load() != 2 {
		t.Fatalf("another key: %q after %d makes", got, made.Load())
	}

	notKept := func() (string, bool) { made.Add(1); return "", false }
	live.Share(ev, "c", notKept)
	if got := live.Share(ev, "c", mk("C")); got != "C" || made.Load() != 4 {
		t.Fatalf("after a result not kept: %q after %d makes, want C after 4", got, made.Load())
	}

	for i := 3; i < live.MaxShared; i++ {
		live.Share(ev, fmt.Sprint(i), mk("x"))
	}
	made.Store(0)
	live.Share(ev, "over", mk("over"))
	live.Share(ev, "over", mk("over"))
	live.Share(ev, "a", mk("A"))
	if made.Load() != 2 {
		t.Fatalf("beyond MaxShared keys: %d makes, want 2 (the new key each time, the old one kept)", made.Load())
	}
}
