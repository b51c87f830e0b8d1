package testkit

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// TCPProxy forwards TCP connections to a PostgreSQL server, for fault tests: Cut drops the open
// connections, SetDown refuses new ones, Silence makes it drop every byte both ways while the
// TCP connections stay up (a hung peer or a middlebox).
type TCPProxy struct {
	Addr   string // host:port to connect to instead of the target
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	silent []*atomic.Bool // one per open connection pair
}

// NewTCPProxy listens on a free loopback port and forwards to target (host:port) until the test ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	p := &TCPProxy{Addr: ln.Addr().String(), ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				_ = c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			quiet := new(atomic.Bool)
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.silent = append(p.silent, quiet)
			p.mu.Unlock()
			go pipe(s, c, quiet)
			go pipe(c, s, quiet)
		}
	}()
	return p
}

func pipe(dst, src net.Conn, quiet *atomic.Bool) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !quiet.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// URL rewrites a connection URL to go through the proxy.
func (p *TCPProxy) URL(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	u.Host = p.Addr
	return u.String()
}

// Cut closes every connection open through the proxy.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns, p.silent = nil, nil
}

// SetDown refuses (true) or accepts (false) new connections.
func (p *TCPProxy) SetDown(down bool) { p.down.Store(down) }

// Silence makes every connection open now drop all bytes from now on, both ways, its TCP
// connection staying up; connections made later are forwarded.
func (p *TCPProxy) Silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.silent {
		q.Store(true)
	}
}
