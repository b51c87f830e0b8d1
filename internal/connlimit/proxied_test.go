package connlimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
)

func TestClientAddrTrustsOnlyNamedProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		peer, xff, want string
		viaProxy        bool
	}{
		{"203.0.113.9:1234", "198.51.100.7", "203.0.113.9", false}, // not a proxy: its header is ignored
		{"10.1.2.3:1234", "198.51.100.7", "198.51.100.7", true},
		{"10.1.2.3:1234", "6.6.6.6, 198.51.100.7, 10.9.9.9", "198.51.100.7", true}, // right-most untrusted hop
		{"10.1.2.3:1234", "", "10.1.2.3", true},
		{"10.1.2.3:1234", "garbage, 198.51.100.7", "198.51.100.7", true},
		{"10.1.2.3:1234", "198.51.100.7, garbage", "10.1.2.3", true}, // nothing left of a bad hop is trusted
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		got, via := ClientAddr(r, proxies)
		if got.String() != c.want || via != c.viaProxy {
			t.Errorf("peer %s, X-Forwarded-For %q: %s %v, want %s %v", c.peer, c.xff, got, via, c.want, c.viaProxy)
		}
	}
}

// Behind a trusted proxy, one client's requests in flight are bounded by MAX_CONNECTIONS_PER_IP
// (503 and Retry-After beyond), another client's are not affected.
func TestProxiedBoundsOneClient(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	p := NewProxied(Config{PerIP: 2, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
	}))
	req := func(client string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:999"
		r.Header.Set("X-Forwarded-For", client)
		return r
	}
	var done sync.WaitGroup
	for range 2 {
		started.Add(1)
		done.Add(1)
		go func() { defer done.Done(); h.ServeHTTP(httptest.NewRecorder(), req("198.51.100.7")) }()
	}
	started.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req("198.51.100.7"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("the third request of one client: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	started.Add(1)
	done.Add(1)
	go func() { defer done.Done(); h.ServeHTTP(httptest.NewRecorder(), req("198.51.100.8")) }()
	started.Wait() // another client is served
	close(release)
	done.Wait()
}
