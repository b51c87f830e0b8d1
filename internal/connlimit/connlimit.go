// Package connlimit bounds the connections a server holds: all of them (MAX_CONNECTIONS) and
// those of one client address (MAX_CONNECTIONS_PER_IP). A connection over a cap is answered at
// once with HTTP 503 and Retry-After, then closed, instead of being left to wait in the kernel's
// backlog or to take a file descriptor until a timeout. Near a cap, idle keep-alive connections
// are closed first, oldest first: they cost a descriptor and serve nobody.
//
// golang.org/x/net/netutil.LimitListener blocks Accept at its cap, which leaves the clients over
// it waiting without an answer, and it has no notion of a client address or of idle connections:
// hence this small wrapper.
package connlimit

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config bounds a Listener. Zero fields disable their bound.
type Config struct {
	Max   int // MAX_CONNECTIONS: open at once
	PerIP int // MAX_CONNECTIONS_PER_IP: open at once from one address
	// Trusted are the proxies (TRUSTED_PROXIES) whose connections carry many clients: they are
	// counted towards Max only; Requests counts their clients by X-Forwarded-For instead.
	Trusted []netip.Prefix
	// RetryAfter is what a refused client is told to wait (1s).
	RetryAfter time.Duration
}

// Near a cap (idleFraction of it), idle connections are closed to make room.
const idleFraction = 0.9

// refusing bounds the refusals being written at once; beyond, a connection over a cap is
// closed without an answer (a flood must not turn into as many goroutines).
const refusing = 64

// Listener is a net.Listener with the caps of its Config. Pass its ConnState to the
// http.Server's ConnState so that it knows which connections are idle.
type Listener struct {
	net.Listener
	cfg Config

	mu    sync.Mutex
	open  int
	perIP map[netip.Addr]int
	idle  map[*conn]time.Time // idle keep-alive connections (and new ones without a request yet), since when

	refusals atomic.Int64 // being written
	Refused  atomic.Int64 // connections refused over a cap, since the start
}

// Wrap returns ln with cfg's caps.
func Wrap(ln net.Listener, cfg Config) *Listener {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	return &Listener{Listener: ln, cfg: cfg, perIP: map[netip.Addr]int{}, idle: map[*conn]time.Time{}}
}

// Open is the number of connections held.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Trusted says whether addr is one of the trusted proxies.
func (l *Listener) Trusted(addr netip.Addr) bool { return trusted(l.cfg.Trusted, addr) }

func trusted(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Accept returns the next connection within the caps; those over a cap are answered 503 and
// closed here.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(nc.RemoteAddr())
		perIP := l.cfg.PerIP > 0 && !l.Trusted(ip)
		l.mu.Lock()
		if l.cfg.Max > 0 && float64(l.open) >= idleFraction*float64(l.cfg.Max) {
			l.closeIdleLocked(netip.Addr{}, l.open-int(idleFraction*float64(l.cfg.Max))+1)
		}
		if perIP && float64(l.perIP[ip]) >= idleFraction*float64(l.cfg.PerIP) {
			l.closeIdleLocked(ip, l.perIP[ip]-int(idleFraction*float64(l.cfg.PerIP))+1)
		}
		over := (l.cfg.Max > 0 && l.open >= l.cfg.Max) || (perIP && l.perIP[ip] >= l.cfg.PerIP)
		if over {
			l.mu.Unlock()
			l.refuse(nc)
			continue
		}
		l.open++
		l.perIP[ip]++
		l.mu.Unlock()
		return &conn{Conn: nc, l: l, ip: ip}, nil
	}
}

// closeIdleLocked closes up to n idle connections, of ip only when it is valid, oldest first.
// Their count drops when the server sees them closed; the open counts drop at once so that the
// connection being accepted may take their place.
func (l *Listener) closeIdleLocked(ip netip.Addr, n int) {
	for ; n > 0; n-- {
		var oldest *conn
		var since time.Time
		for c, t := range l.idle {
			if (!ip.IsValid() || c.ip == ip) && (oldest == nil || t.Before(since)) {
				oldest, since = c, t
			}
		}
		if oldest == nil {
			return
		}
		delete(l.idle, oldest)
		l.releaseLocked(oldest)
		_ = oldest.Conn.Close() // the server's read returns; its Close of the wrapper is then a no-op
	}
}

func (l *Listener) releaseLocked(c *conn) {
	if c.released {
		return
	}
	c.released = true
	delete(l.idle, c)
	l.open--
	if l.perIP[c.ip]--; l.perIP[c.ip] <= 0 {
		delete(l.perIP, c.ip)
	}
}

// ConnState is the http.Server's ConnState hook: it keeps the set of idle connections.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	// A new connection that has not sent its request yet is idle too: a client opening
	// connections and sending nothing holds them until ReadHeaderTimeout otherwise.
	if state == http.StateIdle || state == http.StateNew {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
}

// refuse answers an HTTP/1.1 request on nc with 503 and Retry-After, then closes it. The
// request's head is read first (within a second): closing a socket with unread bytes resets it,
// and the client would lose the answer.
func (l *Listener) refuse(nc net.Conn) {
	l.Refused.Add(1)
	if l.refusals.Add(1) > refusing {
		l.refusals.Add(-1)
		_ = nc.Close()
		return
	}
	go func() {
		defer l.refusals.Add(-1)
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(time.Second))
		r := bufio.NewReaderSize(nc, 4096)
		for {
			line, err := r.ReadSlice('\n')
			if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		_, _ = nc.Write(l.response())
	}()
}

func (l *Listener) response() []byte {
	body := `{"errors":[{"message":"the server holds as many connections as it allows (MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP); try again shortly","extensions":{"code":"TOO_MANY_CONNECTIONS"}}]}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: " +
		strconv.Itoa(RetryAfterSeconds(l.cfg.RetryAfter)) + "\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// RetryAfterSeconds is d in whole seconds, at least 1, for a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	if s := int((d + time.Second - 1) / time.Second); s > 1 {
		return s
	}
	return 1
}

// conn is an accepted connection; closing it frees its place.
type conn struct {
	net.Conn
	l        *Listener
	ip       netip.Addr
	released bool // guarded by l.mu
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
