// Package pgwire is a PostgreSQL wire-protocol proxy that records what a client asks of the
// server: how many round trips it makes, how many connections it opens, and every statement it
// executes with its parameters and results.
//
// It is a measuring instrument (the bench's calibration phase, and tests that assert how many
// round trips an operation costs), not something to put in front of production traffic: it parses
// every message, keeps what it saw in memory and speaks no TLS (it answers an SSLRequest with "no",
// so clients must use sslmode=disable, prefer or allow).
//
// A round trip is a message after which the client waits for the server: each Sync ('S') of the
// extended protocol and each simple Query ('Q'). lib/pq, for example, sends a statement with
// arguments as Parse/Describe/Sync and then Bind/Execute/Sync: two round trips; one without
// arguments as a simple Query: one. A pipelining client (several Bind/Execute before one Sync) is
// counted once per Sync, as it should be.
//
// Typical use:
//
//	p, _ := pgwire.Listen("127.0.0.1:5432")
//	defer p.Close()
//	url, _ := p.RewriteURL(databaseURL) // give this URL to the code under test
//	p.Reset()
//	... one operation ...
//	p.WaitIdle(ctx)
//	rec := p.Snapshot() // rec.RoundTrips, rec.Connections, rec.Statements
package pgwire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"sync"
	"time"
)

// Proxy forwards TCP connections to one PostgreSQL server and records their traffic. It is safe
// for concurrent use.
type Proxy struct {
	upstream string
	ln       net.Listener

	mu     sync.Mutex
	conns  map[int]*conn
	nextID int
	closed bool
	// What Snapshot reports; statements are filled in as their answers arrive.
	roundTrips, connections int
	stmts                   []*Statement
	prepared                map[string]string // PREPARE statements sent in simple Queries, by name; kept across Reset
	wg                      sync.WaitGroup
}

// Recording is what the proxy saw since it started or since the last Reset.
type Recording struct {
	// RoundTrips counts the messages the clients waited on: Sync and simple Query.
	RoundTrips int
	// Prepared are the PREPARE statements (SQL-level, in simple Queries) seen since the proxy
	// started, Reset or not, by name: what a later EXECUTE name runs.
	Prepared map[string]string
	// Connections counts the client connections accepted (each one a new PostgreSQL backend).
	Connections int
	// Statements are the executed statements in the order their Execute (or Query) was sent.
	Statements []Statement
}

// Listen starts a proxy on a free loopback port that forwards to upstream ("host:port").
func Listen(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pgwire: listen: %w", err)
	}
	p := &Proxy{upstream: upstream, ln: ln, conns: map[int]*conn{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address ("127.0.0.1:port").
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// RewriteURL returns a postgres:// URL like dbURL but pointing at the proxy. sslmode defaults to
// disable; sslmode values that insist on TLS are refused, since the proxy speaks none.
func (p *Proxy) RewriteURL(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("pgwire: %q is not a postgres:// URL", dbURL)
	}
	q := u.Query()
	switch q.Get("sslmode") {
	case "":
		q.Set("sslmode", "disable")
	case "disable", "allow", "prefer":
	default:
		return "", fmt.Errorf("pgwire: sslmode=%s needs TLS, which the proxy does not speak", q.Get("sslmode"))
	}
	u.RawQuery = q.Encode()
	u.Host = p.Addr()
	return u.String(), nil
}

// Reset forgets everything recorded so far. Connections already open stay open; their prepared
// statements remain known, so a later Bind of one is still recorded with its SQL.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.roundTrips, p.connections, p.stmts = 0, 0, nil
}

// Snapshot returns a copy of what was recorded since the last Reset.
func (p *Proxy) Snapshot() Recording {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Recording{RoundTrips: p.roundTrips, Connections: p.connections,
		Statements: make([]Statement, len(p.stmts)), Prepared: maps.Clone(p.prepared)}
	for i, s := range p.stmts {
		r.Statements[i] = s.clone()
	}
	return r
}

// WaitIdle waits until no connection is waiting for an answer from the server, i.e. every message
// sent so far has been answered, or until ctx is done.
func (p *Proxy) WaitIdle(ctx context.Context) error {
	for {
		if p.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgwire: not idle: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func (p *Proxy) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if len(c.pending) > 0 {
			return false
		}
	}
	return true
}

// Close stops accepting, closes every proxied connection and waits for their goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.nextID++
		c := &conn{p: p, id: p.nextID, client: client, server: server,
			prepared: map[string]*prepared{}, portals: map[string]*Statement{}}
		p.conns[c.id] = c
		p.connections++
		p.wg.Add(2)
		p.mu.Unlock()
		go c.frontend()
		go c.backend()
	}
}

// conn is one proxied client connection. Its state is guarded by the proxy's mutex.
type conn struct {
	p              *Proxy
	id             int
	client, server net.Conn
	closeOnce      sync.Once

	prepared map[string]*prepared  // by statement name ("" is the unnamed statement)
	portals  map[string]*Statement // bound portals, by name
	// pending are the messages sent whose answers have not all arrived, in order.
	pending []op
}

type prepared struct {
	sql         string
	paramTypes  []uint32
	columns     []string
	columnTypes []uint32
	fresh       bool // parsed since its last Bind
}

// op is a frontend message awaiting its answer.
type op struct {
	kind     byte       // the message type: P, B, D, E, S, Q, C
	describe byte       // for D: 'S' (statement) or 'P' (portal)
	name     string     // for D: the statement or portal name
	stmt     *Statement // for E and Q: the statement being executed
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

func (c *conn) done() {
	c.close()
	c.p.mu.Lock()
	delete(c.p.conns, c.id)
	c.p.mu.Unlock()
	c.p.wg.Done()
}

// Startup codes (the int32 after the length of an untyped startup packet).
const (
	sslRequest    = 80877103
	gssEncRequest = 80877104
	cancelRequest = 80877102
)

// maxMessage bounds one message, so a corrupt length cannot make the proxy allocate gigabytes.
const maxMessage = 1 << 30

// frontend forwards client → server, recording each message.
func (c *conn) frontend() {
	defer c.done()
	r := bufio.NewReaderSize(c.client, 64<<10)
	w := bufio.NewWriterSize(c.server, 64<<10)
	if err := c.startup(r, w); err != nil {
		return
	}
	c.forward(r, w, c.onFrontend)
}

// backend forwards server → client, attributing answers to the pending messages.
func (c *conn) backend() {
	defer c.done()
	c.forward(bufio.NewReaderSize(c.server, 64<<10), bufio.NewWriterSize(c.client, 64<<10), c.onBackend)
}

// forward copies typed messages from r to w until either side fails, showing each to on (under
// the proxy's mutex) before it is sent. It flushes whenever nothing more is buffered, so that a
// pipelined batch stays one write and a lone message is not held back.
func (c *conn) forward(r *bufio.Reader, w *bufio.Writer, on func(kind byte, body []byte)) {
	for {
		msg, err := readMessage(r)
		if err != nil {
			return
		}
		c.p.mu.Lock()
		on(msg[0], msg[5:])
		c.p.mu.Unlock()
		if _, err := w.Write(msg); err != nil {
			return
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// startup forwards the untyped startup packet, refusing TLS and GSS encryption on the client's
// behalf so that the rest of the stream stays readable.
func (c *conn) startup(r *bufio.Reader, w *bufio.Writer) error {
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := int(be32(hdr[0:4]))
		if n < 8 || n > 10000 {
			return errors.New("pgwire: bad startup packet")
		}
		code := be32(hdr[4:8])
		body := make([]byte, n-8)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		if code == sslRequest || code == gssEncRequest {
			if _, err := c.client.Write([]byte{'N'}); err != nil {
				return err
			}
			continue
		}
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if code == cancelRequest {
			return errors.New("pgwire: cancel request forwarded")
		}
		return nil
	}
}

// readMessage reads one typed message: type byte, int32 length (including itself), body.
func readMessage(r *bufio.Reader) ([]byte, error) {
	hdr, err := r.Peek(5)
	if err != nil {
		return nil, err
	}
	n := int(be32(hdr[1:5]))
	if n < 4 || n > maxMessage {
		return nil, fmt.Errorf("pgwire: bad message length %d", n)
	}
	msg := make([]byte, 1+n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}
