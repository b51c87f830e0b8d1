// Package load is a closed-loop HTTP load generator for GraphQL: a fixed number of connections,
// each sending its next request as soon as the previous one is answered, for a warm-up and then a
// measured window.
//
// Closed loop means throughput and latency are what the server sustains at that concurrency; it
// does not model an open arrival rate (so it understates queueing delay once the server
// saturates, which is why p99 is reported next to max).
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one GraphQL POST: a JSON body and the bearer token to send it with.
type Request struct {
	Body  []byte
	Token string
}

// Options describe one run.
type Options struct {
	URL      string        // the GraphQL endpoint
	Conns    int           // concurrent connections, each with one request in flight
	Warmup   time.Duration // unmeasured time before the window
	Duration time.Duration // the measured window
	// Next returns the i-th request (i counts from 0 across all connections).
	Next func(i uint64) Request
	// Check judges an answer; nil means DefaultCheck.
	Check func(status int, body []byte) error
	// Window, when set, is called as the measured window opens (true) and closes (false), so the
	// caller can sample the server's counters at the same instants.
	Window func(open bool)
}

// Result is what was measured in the window.
type Result struct {
	Window    time.Duration   // its length
	Latencies []time.Duration // of the requests completed in the window, sorted
	Errors    int             // failed requests completed in the window (included in Latencies)
	// FirstErrors holds up to five distinct error messages, for the report.
	FirstErrors []string
}

// Requests is the number of requests completed in the window.
func (r Result) Requests() int { return len(r.Latencies) }

// RPS is the completed requests per second of window.
func (r Result) RPS() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Window.Seconds()
}

// Percentile returns the latency at or below which a fraction p (0..1) of requests completed
// (nearest rank).
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(p*float64(n)+0.5) - 1
	return r.Latencies[max(0, min(n-1, i))]
}

// Max is the slowest request in the window.
func (r Result) Max() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[len(r.Latencies)-1]
}

// DefaultCheck accepts HTTP 200 with a body that has no top-level GraphQL errors. (A string value
// cannot produce the `"errors":` key: its quotes would be escaped.)
func DefaultCheck(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.200s", status, body)
	}
	if bytes.Contains(body, []byte(`"errors":`)) {
		return fmt.Errorf("GraphQL errors: %.300s", body)
	}
	return nil
}

// NewClient returns an HTTP client that keeps up to conns connections open to one host.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Do sends one request and returns the status and body.
func Do(ctx context.Context, c *http.Client, url string, r Request) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Run drives the load and returns what completed inside the window. It stops early, with an
// error, when ctx is done.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Conns < 1 || o.Duration <= 0 || o.Next == nil {
		return Result{}, errors.New("load: Conns, Duration and Next are required")
	}
	if o.Check == nil {
		o.Check = DefaultCheck
	}
	client := NewClient(o.Conns)
	defer client.CloseIdleConnections()

	start := time.Now()
	open, closeAt := start.Add(o.Warmup), start.Add(o.Warmup+o.Duration)
	var timers sync.WaitGroup
	if o.Window != nil {
		timers.Add(1)
		go func() { defer timers.Done(); signalWindow(ctx, o.Window, open, closeAt) }()
	}
	var next atomic.Uint64
	perConn := make([][]sample, o.Conns)
	var wg sync.WaitGroup
	for c := range o.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			perConn[c] = connection(ctx, client, o, &next, open, closeAt)
		}()
	}
	wg.Wait()
	// The connections stop after closeAt, so the close edge is due: wait for it rather than
	// stop the timers (which raced it, and skipped the window's closing samples).
	timers.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return result(o.Duration, perConn), nil
}

// sample is one request completed inside the window.
type sample struct {
	lat time.Duration
	err error
}

// signalWindow calls window(true) at open and window(false) at closeAt, unless ctx ends first.
func signalWindow(ctx context.Context, window func(open bool), open, closeAt time.Time) {
	for _, edge := range []struct {
		at   time.Time
		open bool
	}{{open, true}, {closeAt, false}} {
		select {
		case <-time.After(time.Until(edge.at)):
			window(edge.open)
		case <-ctx.Done():
			return
		}
	}
}

// connection is one closed-loop connection: it sends the next request as soon as the previous
// one is answered, until closeAt, and keeps those completed inside [open, closeAt].
func connection(ctx context.Context, client *http.Client, o Options, next *atomic.Uint64, open, closeAt time.Time) []sample {
	var samples []sample
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(closeAt) {
			break
		}
		r := o.Next(next.Add(1) - 1)
		status, body, err := Do(ctx, client, o.URL, r)
		if err == nil {
			err = o.Check(status, body)
		}
		t1 := time.Now()
		if !t1.Before(open) && !t1.After(closeAt) {
			samples = append(samples, sample{t1.Sub(t0), err})
		}
	}
	return samples
}

// result gathers the connections' samples: sorted latencies, errors and the first five
// distinct error messages.
func result(window time.Duration, perConn [][]sample) Result {
	res := Result{Window: window}
	seen := map[string]bool{}
	for _, samples := range perConn {
		for _, s := range samples {
			res.Latencies = append(res.Latencies, s.lat)
			if s.err != nil {
				res.Errors++
				if msg := s.err.Error(); len(res.FirstErrors) < 5 && !seen[msg] {
					seen[msg] = true
					res.FirstErrors = append(res.FirstErrors, msg)
				}
			}
		}
	}
	slices.Sort(res.Latencies)
	return res
}
