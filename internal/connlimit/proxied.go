package connlimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proxied bounds what one client may hold through a trusted proxy, whose connection carries many
// clients: the requests in flight (streams and sockets included) of one client address, taken
// from X-Forwarded-For, at PerIP. X-Forwarded-For is read only from a trusted proxy's
// connection (anyone else could write any address in it); the client is its right-most address
// that is not itself a trusted proxy.
type Proxied struct {
	cfg Config

	mu sync.Mutex
	n  map[netip.Addr]int
}

// NewProxied returns the per-client bound of cfg for requests from its trusted proxies.
func NewProxied(cfg Config) *Proxied {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	return &Proxied{cfg: cfg, n: map[netip.Addr]int{}}
}

// ClientAddr is the address r comes from: its peer's, or for a trusted proxy the client it names
// in X-Forwarded-For.
func ClientAddr(r *http.Request, trustedProxies []netip.Prefix) (addr netip.Addr, viaProxy bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	peer := ap.Addr().Unmap()
	if !trusted(trustedProxies, peer) {
		return peer, false
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: nothing left of it can be trusted
		}
		if a = a.Unmap(); !trusted(trustedProxies, a) {
			return a, true
		}
	}
	return peer, true
}

// Handler refuses a request from a trusted proxy's client over PerIP with 503 and Retry-After.
func (p *Proxied) Handler(next http.Handler) http.Handler {
	if p.cfg.PerIP <= 0 || len(p.cfg.Trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, viaProxy := ClientAddr(r, p.cfg.Trusted)
		if !viaProxy {
			next.ServeHTTP(w, r) // counted by the listener
			return
		}
		p.mu.Lock()
		if p.n[ip] >= p.cfg.PerIP {
			p.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(p.cfg.RetryAfter)))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"errors":[{"message":"this client address holds as many requests as it may (MAX_CONNECTIONS_PER_IP); try again shortly","extensions":{"code":"TOO_MANY_CONNECTIONS"}}]}` + "\n"))
			return
		}
		p.n[ip]++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			if p.n[ip]--; p.n[ip] <= 0 {
				delete(p.n, ip)
			}
			p.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}
