package load_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/bench/load"
)

// The generator sends what Next returns with its token, keeps at most Conns requests in flight,
// counts failed answers as errors and reports sorted latencies.
func TestRunCountsRequestsAndErrors(t *testing.T) {
	t.Parallel()
	var inFlight, peak, served atomic.Int64
	var mu sync.Mutex
	tokens := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		tokens[r.Header.Get("Authorization")]++
		mu.Unlock()
		served.Add(1)
		time.Sleep(time.Millisecond)
		if strings.Contains(string(body), `"fail"`) {
			fmt.Fprint(w, `{"errors":[{"message":"no"}],"data":null}`)
			return
		}
		fmt.Fprint(w, `{"data":{"ok":true}}`)
	}))
	defer srv.Close()

	var windows []bool
	res, err := load.Run(context.Background(), load.Options{
		URL: srv.URL, Conns: 3, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond,
		Next: func(i uint64) load.Request {
			body := `{"query":"ok"}`
			if i%4 == 3 {
				body = `{"query":"fail"}`
			}
			return load.Request{Body: []byte(body), Token: fmt.Sprintf("t%d", i%2)}
		},
		Window: func(open bool) { windows = append(windows, open) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests() == 0 || int64(res.Requests()) > served.Load() {
		t.Fatalf("%d requests in the window, %d served", res.Requests(), served.Load())
	}
	if peak.Load() > 3 {
		t.Fatalf("%d requests in flight at once, want at most 3", peak.Load())
	}
	// A quarter of the requests fail; the window sees a share of them close to that.
	if res.Errors == 0 || res.Errors > res.Requests()/2 || len(res.FirstErrors) != 1 {
		t.Fatalf("%d errors of %d (%v)", res.Errors, res.Requests(), res.FirstErrors)
	}
	if !slices.IsSorted(res.Latencies) || res.Percentile(0.5) > res.Max() || res.Percentile(1) != res.Max() {
		t.Fatalf("latencies not sorted or percentiles off: p50 %v max %v", res.Percentile(0.5), res.Max())
	}
	if tokens["Bearer t0"] == 0 || tokens["Bearer t1"] == 0 || len(tokens) != 2 {
		t.Fatalf("tokens seen: %v", tokens)
	}
	if !slices.Equal(windows, []bool{true, false}) {
		t.Fatalf("window callbacks %v", windows)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	r := load.Result{Window: time.Second}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.9: 90 * time.Millisecond,
		0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p*100, got, want)
		}
	}
	if r.RPS() != 100 {
		t.Errorf("RPS %v", r.RPS())
	}
	if (load.Result{}).Percentile(0.5) != 0 {
		t.Error("empty result has a percentile")
	}
}
