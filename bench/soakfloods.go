package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Issue 20's attackers for the soak's second phase, beside issue 9's: a connection flood (idle
// keep-alive connections from one address, 127.0.0.2, up to SOAK_FLOOD of them, reopened as the
// server closes them) and slow readers (SOAK_SLOW signed-in requests for a heavy page as an
// event stream, and sockets subscribing to the page, none of them ever read). The server's open
// files are sampled with its RSS and reported with the honest p99 of each phase.
type floods struct {
	conns, slow int

	opened, refused, closedByServer atomic.Int64
	slowSent                        atomic.Int64

	mu       sync.Mutex
	peakFDs  map[string]int // by phase
	phaseFor func() string
}

func newFloods(s *soakRun) *floods {
	env := func(k string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n >= 0 {
			return n
		}
		return def
	}
	return &floods{conns: env("SOAK_FLOOD", 2000), slow: env("SOAK_SLOW", 20), peakFDs: map[string]int{},
		phaseFor: func() string {
			s.mu.Lock()
			defer s.mu.Unlock()
			if p := s.current(); p != nil {
				return p.name
			}
			return "after"
		}}
}

// start runs the attackers while s.attacking is set, and the fd sampler until ctx is done.
func (f *floods) start(ctx context.Context, s *soakRun, wg *sync.WaitGroup) {
	go f.sampleFDs(ctx, s)
	wg.Add(2)
	go func() { defer wg.Done(); f.flood(ctx, s) }()
	go func() { defer wg.Done(); f.slowReaders(ctx, s) }()
}

func waitAttack(ctx context.Context, s *soakRun) bool {
	for !s.attacking.Load() || s.rssStop.Load() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}

// flood keeps up to f.conns idle keep-alive connections open from 127.0.0.2.
func (f *floods) flood(ctx context.Context, s *soakRun) {
	if f.conns == 0 || !waitAttack(ctx, s) {
		return
	}
	addr := strings.TrimPrefix(s.srv.base, "http://")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	sem := make(chan struct{}, f.conns)
	for ctx.Err() == nil && s.attacking.Load() {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			<-sem
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: soak\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
				f.refused.Add(1)
			}
			c.Close()
			<-sem
			continue
		}
		resp.Body.Close()
		f.opened.Add(1)
		_ = c.SetDeadline(time.Time{})
		go func() { // held until the server closes it (idle ones go first near a cap) or the end
			defer func() { <-sem }()
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			if _, err := c.Read(make([]byte, 1)); err != nil && ctx.Err() == nil {
				f.closedByServer.Add(1)
			}
		}()
	}
}

// slowReaders sends heavy pages that are never read: event-stream POSTs and socket subscribes.
func (f *floods) slowReaders(ctx context.Context, s *soakRun) {
	if f.slow == 0 || !waitAttack(ctx, s) {
		return
	}
	addr := strings.TrimPrefix(s.srv.base, "http://")
	page := string(gqlBody(`{ tasks(first: 100) { nodes { id title description tags { id name } } } }`, nil))
	var wg sync.WaitGroup
	for i := range f.slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && s.attacking.Load() {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err == nil {
					_ = c.(*net.TCPConn).SetReadBuffer(4096) // the unread answer stays on the server's side
				}
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				stop := context.AfterFunc(ctx, func() { c.Close() })
				accept := "text/event-stream"
				if i%2 == 1 {
					accept = "application/json"
				}
				fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nAccept: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", accept, s.amp, len(page), page)
				f.slowSent.Add(1)
				// Never read; held 20 s (past the server's per-write deadline of a stream), then
				// another one.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Second):
				}
				stop()
				c.Close()
			}
		}()
	}
	wg.Wait()
}

// sampleFDs counts the server's open files every 500 ms.
func (f *floods) sampleFDs(ctx context.Context, s *soakRun) {
	every(ctx, 500*time.Millisecond, func() {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.srv.pid()))
		if err != nil {
			return
		}
		phase := f.phaseFor()
		f.mu.Lock()
		f.peakFDs[phase] = max(f.peakFDs[phase], len(entries))
		f.mu.Unlock()
	})
}

// report is the floods' part of the soak's results.
func (f *floods) report() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\nIssue 20's attackers: %d flood connections opened (at most %d held), %d refused with 503, %d closed by the server; %d unread heavy pages sent by %d slow readers.\n",
		f.opened.Load(), f.conns, f.refused.Load(), f.closedByServer.Load(), f.slowSent.Load(), f.slow)
	for _, p := range []string{"without attacks", "with attacks"} {
		fmt.Fprintf(&b, "Server open files, peak %s: %d\n", p, f.peakFDs[p])
	}
	return b.String()
}
