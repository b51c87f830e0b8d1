package live_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// Subscriptions start exactly: one writer commits tasks numbered 0, 1, 2... one after another
// while 32 readers open subscriptions, over and over. A fresh subscription must hear nothing
// acknowledged before Subscribe was called (none early), everything whose commit began after it
// returned (none missing), each once and in order; a resumed one (SubscribeAfter the last cursor
// its reader saw) exactly the tasks after that one. 5,000 trials of each.
func TestStartAndResumeRaceNotify(t *testing.T) {
	e := newEnv(t, live.Config{PerUser: 40}, nil)
	startRace(t, e, 5000)
}

func TestStartAndResumeRaceLogical(t *testing.T) {
	e, _ := newLogicalEnv(t, live.Config{PerUser: 40}, nil)
	startRace(t, e, 5000)
}

func startRace(t *testing.T, e *env, trials int) {
	if os.Getenv(testkit.PoolerEnv) != "" {
		t.Skip("the start race runs once, in make unit (a minute or more under -race); the pooler changes nothing it tests")
	}
	a, actx := e.user("a")
	var started, acked atomic.Int64
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			started.Store(i + 1)
			if _, err := e.store.CreateTask(context.Background(), a, db.NewTask{Title: strconv.FormatInt(i, 10)}); err != nil {
				writerDone <- err
				return
			}
			acked.Store(i + 1)
			time.Sleep(time.Millisecond) // a pace the feed keeps up with: trials measure the start, not a backlog
		}
	}()
	defer func() {
		close(stop)
		if err := <-writerDone; err != nil {
			t.Errorf("writer: %v", err)
		}
	}()

	var early, missing, duplicated, fresh, resumed atomic.Int64
	var failures sync.Map
	fail := func(msg string) { failures.LoadOrStore(msg, true) }
	// read takes the events up to beyond, checking that they follow each other from the
	// first, and returns the first and the last.
	read := func(ch <-chan *live.Event, s *live.Subscription, beyond int64) (first, last int64, cursor string, ok bool) {
		first, last = -1, -1
		timeout := time.After(20 * time.Second)
		for last < beyond {
			select {
			case ev, open := <-ch:
				if !open {
					fail(fmt.Sprintf("ended: %v", s.Err()))
					return first, last, "", false
				}
				n, _ := strconv.ParseInt(ev.Task.Title, 10, 64)
				switch {
				case first < 0:
					first = n
				case n <= last:
					duplicated.Add(1)
					fail(fmt.Sprintf("task %d after %d", n, last))
				case n > last+1:
					missing.Add(n - last - 1)
					fail(fmt.Sprintf("tasks %d..%d missing", last+1, n-1))
				}
				last, cursor = n, ev.Cursor
			case <-timeout:
				fail(fmt.Sprintf("no event past %d within 20s (last %d)", beyond, last))
				return first, last, "", false
			}
		}
		return first, last, cursor, true
	}
	var wg sync.WaitGroup
	var remaining atomic.Int64
	remaining.Store(int64(trials))
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for remaining.Add(-1) >= 0 {
				// Fresh.
				lo := acked.Load()
				s, ch, err := live.Subscribe(actx, e.hub, live.TaskEvents, func(ev *live.Event) *live.Event { return ev })
				if err != nil {
					fail(err.Error())
					return
				}
				hi := started.Load()
				first, last, cursor, ok := read(ch, s, hi)
				s.Close()
				if !ok {
					return
				}
				fresh.Add(1)
				if first < lo {
					early.Add(lo - first)
					fail(fmt.Sprintf("fresh: first event %d, acknowledged before the start: up to %d", first, lo-1))
				}
				if first > hi {
					missing.Add(first - hi)
					fail(fmt.Sprintf("fresh: first event %d, want at most %d", first, hi))
				}
				// Resumed after the last event seen.
				s, ch, err = live.SubscribeAfter(actx, e.hub, live.TaskEvents, cursor, func(ev *live.Event) *live.Event { return ev })
				if err != nil {
					fail(err.Error())
					return
				}
				rfirst, _, _, ok := read(ch, s, last+1)
				s.Close()
				if !ok {
					return
				}
				resumed.Add(1)
				if rfirst != last+1 {
					if rfirst <= last {
						duplicated.Add(last + 1 - rfirst)
					} else {
						missing.Add(rfirst - last - 1)
					}
					fail(fmt.Sprintf("resumed after %d: first event %d", last, rfirst))
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d fresh and %d resumed subscriptions over %d commits: %d early, %d missing, %d duplicated",
		fresh.Load(), resumed.Load(), acked.Load(), early.Load(), missing.Load(), duplicated.Load())
	failures.Range(func(k, _ any) bool { t.Error(k); return true })
	if fresh.Load() < int64(trials) || resumed.Load() < int64(trials) {
		t.Fatalf("%d fresh and %d resumed trials ran, want %d of each", fresh.Load(), resumed.Load(), trials)
	}
}
