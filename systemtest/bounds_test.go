package systemtest

// Issue 20's attacks, each scaled down to seconds, against serve with its caps set through the
// environment: each test asserts the bound and that a second, honest user is answered
// meanwhile, within honestWithin.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/pgwire"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// honestWithin is how fast the honest user's `{ me }` must be answered while an attack runs.
// Issue 20 asks for 1 s, which `make soak`'s floods report as the honest p99; here, under the race
// detector and beside other tests on two cores, the bound only separates "answered" from
// "starved" (before the bounds the same request waited 2.4–10 s, or timed out).
const honestWithin = 2 * time.Second

// boundsEnv is serve on 127.0.0.1 with the settings a test gives. Attackers dial from other
// loopback addresses (127.0.0.2, ...), the honest user from 127.0.0.1.
type boundsEnv struct {
	*liveEnv
	base string
}

func newBoundsEnv(t *testing.T, vars map[string]string) *boundsEnv {
	t.Helper()
	e := newLiveEnv(t, vars)
	return &boundsEnv{liveEnv: e, base: e.srv.Base}
}

// dialerFrom dials from the loopback address ip.
func dialerFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// clientFrom is an HTTP client whose connections come from ip.
func clientFrom(ip string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialerFrom(ip).DialContext, MaxIdleConnsPerHost: 4}}
}

// honestMe asks `{ me }` as token from 127.0.0.1, n times, and fails the test unless each is
// answered without errors within honestWithin.
func (e *boundsEnv) honestMe(token string, n int) {
	e.t.Helper()
	c := clientFrom("127.0.0.1")
	defer c.CloseIdleConnections()
	for i := range n {
		start := time.Now()
		body := strings.NewReader(`{"query":"{ me { id } }"}`)
		req, _ := http.NewRequest(http.MethodPost, e.base+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		var connected, wrote time.Duration
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			ConnectDone:  func(string, string, error) { connected = time.Since(start) },
			WroteRequest: func(httptrace.WroteRequestInfo) { wrote = time.Since(start) },
		}))
		resp, err := c.Do(req)
		defer func() {
			if e.t.Failed() {
				e.t.Logf("honest request %d: connected after %s, written after %s", i, connected, wrote)
			}
		}()
		if err != nil {
			e.t.Fatalf("honest request %d: %v", i, err)
		}
		var a testkit.Result
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK || len(a.Errors) > 0 || a.Data["me"] == nil {
			e.t.Fatalf("honest request %d: HTTP %d, %+v, %v", i, resp.StatusCode, a, err)
		}
		if testing.Verbose() {
			e.t.Logf("honest %d: %s", i, took)
		}
		if took > honestWithin {
			e.t.Fatalf("honest request %d took %s, more than %s", i, took, honestWithin)
		}
	}
}

// keepAlive opens a connection from ip, sends GET /healthz, reads the answer and keeps the
// connection open (an idle keep-alive connection); it returns the connection and the status.
func keepAlive(base, ip string) (net.Conn, int, error) {
	c, err := dialerFrom(ip).Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return nil, 0, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		c.Close()
		return nil, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c, resp.StatusCode, nil
}

// TestBoundKeepAliveFlood: one address opens three times its cap of keep-alive connections
// (issue 20's first row, scaled down) and a hundred that send nothing: the idle ones are closed
// first, so the address never holds more than MAX_CONNECTIONS_PER_IP and every new one is
// served; the honest user is answered meanwhile.
func TestBoundKeepAliveFlood(t *testing.T) {
	t.Parallel()
	const perIP = 20
	e := newBoundsEnv(t, map[string]string{"MAX_CONNECTIONS": "200", "MAX_CONNECTIONS_PER_IP": fmt.Sprint(perIP)})
	_, token := e.user("honest")
	e.honestMe(token, 1)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 3 * perIP {
		c, status, err := keepAlive(e.base, "127.0.0.2")
		if err != nil {
			t.Fatalf("keep-alive connection %d: %v", i, err)
		}
		if status != http.StatusOK {
			t.Fatalf("keep-alive connection %d: HTTP %d, want 200 (idle ones make room)", i, status)
		}
		held = append(held, c)
		testkit.WaitFor(t, fmt.Sprintf("at most %d of %d connections from one address open", perIP, i+1), 5*time.Second,
			func() bool { return openConns(held) <= perIP })
	}
	for range 100 { // connections that never send a request
		c, err := dialerFrom("127.0.0.2").Dial("tcp", strings.TrimPrefix(e.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	e.honestMe(token, 4)
	testkit.WaitFor(t, "the address within its cap", 5*time.Second, func() bool { return openConns(held) <= perIP })
	// The first connections were closed by the server: their next read ends.
	_ = held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held[0].Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the oldest idle connection is still open: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// openConns counts the connections of conns the server has not closed: a read that is not
// answered within a moment (what the server wrote before closing one is read and skipped).
func openConns(conns []net.Conn) int {
	n := 0
	buf := make([]byte, 4096)
	for _, c := range conns {
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(buf); err != nil {
				if isTimeout(err) {
					n++
				}
				break
			}
		}
	}
	return n
}

// TestBoundActiveConnectionsOverTheCap: sockets (hijacked, never idle) from one address up to
// its cap, then more: each one over the cap is answered 503 with Retry-After and
// TOO_MANY_CONNECTIONS at once; the honest user, from another address, is answered meanwhile.
// With MAX_CONNECTIONS full as well, a new address gets the same 503.
func TestBoundActiveConnectionsOverTheCap(t *testing.T) {
	t.Parallel()
	const perIP, max = 10, 25
	e := newBoundsEnv(t, map[string]string{"MAX_CONNECTIONS": fmt.Sprint(max), "MAX_CONNECTIONS_PER_IP": fmt.Sprint(perIP), "SOCKETS_PER_USER": "100"})
	_, token := e.user("honest")
	_, attacker := e.user("attacker")
	var alive, refusals atomic.Int64 // the attacker's sockets the server holds; its 503s
	dial := func(ip string) (*http.Response, time.Duration, error) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/graphql", &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: clientFrom(ip)})
		took := time.Since(start)
		if err != nil {
			return resp, took, err
		}
		t.Cleanup(func() { _ = c.CloseNow() })
		// Signed in, so that the connection_init timeout leaves it open; it reads (and so
		// answers pings) until the server closes it.
		b, _ := json.Marshal(testkit.WSMessage{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer ` + attacker + `"}`)})
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			return resp, took, err
		}
		if _, ack, err := c.Read(ctx); err != nil || !strings.Contains(string(ack), "connection_ack") {
			return resp, took, fmt.Errorf("connection_init: %s %v", ack, err)
		}
		alive.Add(1)
		go func() {
			defer alive.Add(-1)
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		return resp, took, nil
	}
	for i := range perIP {
		if _, _, err := dial("127.0.0.2"); err != nil {
			t.Fatalf("socket %d within the cap: %v", i, err)
		}
	}
	refused := func(ip string) {
		t.Helper()
		resp, took, err := dial(ip)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a socket from %s over the cap: %v %+v, want HTTP 503", ip, err, resp)
		}
		if resp.Header.Get("Retry-After") == "" || took > honestWithin {
			t.Fatalf("503 without Retry-After (%q) or slow (%s)", resp.Header.Get("Retry-After"), took)
		}
		refusals.Add(1)
	}
	for range 5 {
		refused("127.0.0.2")
	}
	e.honestMe(token, 4)
	for _, ip := range []string{"127.0.0.3", "127.0.0.4"} {
		for range perIP {
			if _, _, err := dial(ip); err != nil && alive.Load() < max {
				t.Fatal(err)
			}
		}
	}
	refused("127.0.0.5")
	if open := alive.Load(); open > max {
		t.Fatalf("%d connections held, over MAX_CONNECTIONS %d", open, max)
	}
	if refusals.Load() == 0 {
		t.Fatal("no refusal counted")
	}
}

// wsFrom opens a graphql-transport-ws socket from 127.0.0.1 (the helpers' client).
func (e *boundsEnv) socket(token string) *testkit.WSClient {
	e.t.Helper()
	ws, _, err := testkit.DialWS(e.t, e.base, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		ws.Connect(token)
	}
	return ws
}

// TestBoundSocketsPerUser: one user opens more authenticated sockets and event streams than
// SOCKETS_PER_USER (issue 20's second row, scaled down): the socket over it closes with 4429
// too_many_sockets at connection_init, the stream over it is answered 429 TOO_MANY_SOCKETS with
// Retry-After; closing one frees its place; another user is served meanwhile.
func TestBoundSocketsPerUser(t *testing.T) {
	t.Parallel()
	const perUser = 3
	e := newBoundsEnv(t, map[string]string{"SOCKETS_PER_USER": fmt.Sprint(perUser)})
	_, heavy := e.user("heavy")
	_, honest := e.user("honest")
	var socks []*testkit.WSClient
	for range perUser - 1 {
		socks = append(socks, e.socket(heavy))
	}
	sse := testkit.OpenSSE(t, e.base, heavy, `subscription { taskEvents { kind id } }`)
	if sse.Resp.StatusCode != http.StatusOK {
		t.Fatalf("a stream within the cap: HTTP %d", sse.Resp.StatusCode)
	}
	e.waitOpen(1) // the stream counted: its subscription is open
	over := e.socket("")
	over.Init(map[string]any{"Authorization": "Bearer " + heavy})
	if ce := over.WaitClose(5 * time.Second); ce.Code != 4429 || ce.Reason != "too_many_sockets" {
		t.Fatalf("the socket over SOCKETS_PER_USER closed with %d %q, want 4429 too_many_sockets", ce.Code, ce.Reason)
	}
	overSSE := testkit.OpenSSE(t, e.base, heavy, `subscription { taskEvents { kind id } }`)
	var a testkit.Result
	_ = json.NewDecoder(overSSE.Resp.Body).Decode(&a)
	if overSSE.Resp.StatusCode != http.StatusTooManyRequests || a.Code() != "TOO_MANY_SOCKETS" || overSSE.Resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the stream over SOCKETS_PER_USER: HTTP %d %q Retry-After %q", overSSE.Resp.StatusCode, a.Code(), overSSE.Resp.Header.Get("Retry-After"))
	}
	e.honestMe(honest, 4)
	e.socket(honest) // another user's socket is not counted against heavy's

	_ = socks[0].Conn().Close(websocket.StatusNormalClosure, "")
	testkit.WaitFor(t, "the closed socket's place freed", 5*time.Second, func() bool {
		ws := e.socket("")
		ws.Init(map[string]any{"Authorization": "Bearer " + heavy})
		select {
		case m := <-ws.Ch(""):
			return m.Type == "connection_ack"
		case <-ws.Done: // 4429: not yet
			return false
		}
	})
}

// TestBoundBytesBeforeInit: 20 anonymous sockets each sending a message of 1 MiB - 1 before
// connection_init (issue 20's third row, scaled down) are closed with 1009 after reading at most
// PreInitReadLimit; a connection_init payload over it too; an authenticated socket may send
// larger messages; the honest user is answered meanwhile.
func TestBoundBytesBeforeInit(t *testing.T) {
	t.Parallel()
	e := newBoundsEnv(t, nil)
	_, honest := e.user("honest")
	e.honestMe(honest, 1) // warm: the honest user is measured under the attack, not at its first request
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- rawBigMessage(e.base, 1<<20-1)
		}()
	}
	e.honestMe(honest, 4)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != int(websocket.StatusMessageTooBig) {
			t.Fatalf("a 1 MiB message before connection_init: %d, want a close with 1009", c)
		}
	}
	ws := e.socket("")
	ws.Init(map[string]any{"Authorization": "Bearer " + honest, "pad": strings.Repeat("p", live.PreInitReadLimit)})
	if ce := ws.WaitClose(5 * time.Second); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("a connection_init over %d bytes closed with %d, want 1009", live.PreInitReadLimit, ce.Code)
	}
	// Once authenticated, a message of 60 KB is read (and answered).
	ok := e.socket(honest)
	payload, _ := json.Marshal(map[string]any{"query": "# " + strings.Repeat("c", 60_000) + "\n{ me { id } }"})
	if err := ok.Send(testkit.WSMessage{ID: "q", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if m := ok.Next("q", 5*time.Second); m.Type != "next" {
		t.Fatalf("a 60 KB message after connection_init: %+v", m)
	}
}

// TestBoundDuplicateSubscriptionID: a second subscribe with an id still open closes the socket
// with 4409 (graphql-ws), and every subscription of the socket ends: none is left orphaned
// (issue 20: 20 subscribes with one id left 19 running). A completed id frees its place at once.
func TestBoundDuplicateSubscriptionID(t *testing.T) {
	t.Parallel()
	e := newBoundsEnv(t, map[string]string{"SUBSCRIPTIONS_PER_USER": "3"})
	_, tok := e.user("alice")
	ws := e.socket(tok)
	ws.Subscribe("a", `subscription { taskEvents { kind id } }`)
	e.waitOpen(1)
	for range 19 {
		_ = ws.Send(testkit.WSMessage{ID: "a", Type: "subscribe", Payload: json.RawMessage(`{"query":"subscription { taskEvents { kind id } }"}`)})
	}
	if ce := ws.WaitClose(5 * time.Second); ce.Code != 4409 || !strings.Contains(ce.Reason, "already exists") {
		t.Fatalf("a duplicate subscribe id closed the socket with %d %q, want 4409", ce.Code, ce.Reason)
	}
	e.waitOpen(0) // none left

	ws = e.socket(tok)
	for range 5 { // complete and subscribe again, the same id, more times than PerUser
		ws.Subscribe("b", `subscription { taskEvents { kind id } }`)
		e.waitOpen(1)
		if err := ws.Send(testkit.WSMessage{ID: "b", Type: "complete"}); err != nil {
			t.Fatal(err)
		}
		e.waitOpen(0) // the completed id's place freed
	}
	// The id, reused once more, is answered under its own name, and not ended by a late
	// complete of an earlier operation that had it.
	if err := ws.Send(testkit.WSMessage{ID: "b", Type: "subscribe", Payload: json.RawMessage(`{"query":"{ me { id } }"}`)}); err != nil {
		t.Fatal(err)
	}
	if m := ws.Next("b", 5*time.Second); m.Type != "next" {
		t.Fatalf("a query under the reused id: %+v", m)
	}
}

// rawBigMessage upgrades a connection by hand and sends one text frame of n bytes (masked with
// a zero key, so that the attacker spends no CPU on it); it returns the close code the server
// answers with, or -1.
func rawBigMessage(base string, n int) int {
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return -1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write([]byte("GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return -1
	}
	header := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(header[2:10], uint64(n))
	go func() { // the server stops reading long before the end: writing may block
		_, _ = c.Write(header)
		_, _ = c.Write(make([]byte, n))
	}()
	for { // frames from the server: the close frame's first two payload bytes are its code
		h := make([]byte, 2)
		if _, err := io.ReadFull(r, h); err != nil {
			return -1
		}
		size := int(h[1] & 0x7f)
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return -1
		}
		if h[0]&0x0f == 0x8 && size >= 2 {
			return int(binary.BigEndian.Uint16(body))
		}
	}
}

// runningReads counts the server's sessions in a transaction that reads tasks (the heavy
// user's pages; the honest user's `{ me }` reads none): a lower bound of its operations running.
func runningReads(t *testing.T, e *boundsEnv) int {
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query ILIKE '%tasks%'`); err != nil {
		t.Error(err)
	}
	return n
}

// TestBoundOperationsPerUser: one user sends 40 heavy page queries at once (issue 20's sixth row
// over HTTP, scaled down): at most OPERATIONS_PER_USER run at a time, the queue's overflow is
// answered 429 TOO_MANY_REQUESTS with Retry-After, and another user's `{ me }` is answered
// meanwhile.
func TestBoundOperationsPerUser(t *testing.T) {
	t.Parallel()
	const perUser = 2
	e := newBoundsEnv(t, map[string]string{"OPERATIONS_PER_USER": fmt.Sprint(perUser)})
	heavy, heavyTok := e.user("heavy")
	_, honest := e.user("honest")
	testkit.InsertTaggedTasks(t, e.db, db.AppRole, heavy.UUID, 300, 2000)
	e.honestMe(honest, 1)
	page := `{ tasks(first: 100) { edges { node { id title description tags { id name } } } } }`
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	codes := map[string]int{}
	maxRunning := 0
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := runningReads(t, e)
			mu.Lock()
			maxRunning = max(maxRunning, n)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	c := clientFrom("127.0.0.2")
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]string{"query": page})
			req, _ := http.NewRequest(http.MethodPost, e.base+"/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+heavyTok)
			resp, err := c.Do(req)
			if err != nil {
				mu.Lock()
				statuses[-1]++
				mu.Unlock()
				return
			}
			var a testkit.Result
			_ = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			codes[a.Code()]++
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				codes["no Retry-After"]++
			}
			mu.Unlock()
		}()
	}
	time.Sleep(100 * time.Millisecond)
	e.honestMe(honest, 4)
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("statuses %v, codes %v, at most %d running", statuses, codes, maxRunning)
	if maxRunning > perUser || maxRunning == 0 {
		t.Fatalf("%d of the user's requests ran at once, want 1..%d", maxRunning, perUser)
	}
	if statuses[http.StatusTooManyRequests] == 0 || codes["TOO_MANY_REQUESTS"] != statuses[http.StatusTooManyRequests] || codes["no Retry-After"] > 0 {
		t.Fatalf("no clean 429 TOO_MANY_REQUESTS with Retry-After: %v %v", statuses, codes)
	}
	if statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != 40 {
		t.Fatalf("answers other than 200 and 429: %v", statuses)
	}
}

// TestBoundKeyRemovedEndsConnections: when the key that signed a token leaves the JWKS, the
// sockets and event streams authenticated with it end at the next refresh (issue 20: they kept
// receiving until exp): the socket closes with 4403 unknown_key, the stream's subscription ends
// with a final UNAUTHENTICATED error; a connection signed by the new key stays.
func TestBoundKeyRemovedEndsConnections(t *testing.T) {
	t.Parallel()
	e := newBoundsEnv(t, map[string]string{"AUTH_JWKS_REFRESH": "200ms"})
	_, oldTok := e.user("alice")
	ws := e.socket(oldTok)
	ws.Subscribe("t", `subscription { taskEvents { kind id } }`)
	sse := testkit.OpenSSE(t, e.base, oldTok, `subscription { taskEvents { kind id } }`)
	e.waitOpen(2)

	e.iss.Rotate(t) // the old key is no longer published
	bob, _ := e.user("bob")
	newTok := e.iss.TokenFor(t, bob)
	kept := e.socket(newTok)
	kept.Subscribe("k", `subscription { taskEvents { kind id } }`)

	if ce := ws.WaitClose(5 * time.Second); ce.Code != 4403 || ce.Reason != "unknown_key" {
		t.Fatalf("the socket signed by the removed key closed with %d %q, want 4403 unknown_key", ce.Code, ce.Reason)
	}
	var events []testkit.SSEEvent
	for ev := range sse.Events() {
		events = append(events, ev)
	}
	if n := len(events); n < 2 || events[n-1].Event != "complete" || !strings.Contains(events[n-2].Data, "UNAUTHENTICATED") {
		t.Fatalf("the stream's events: %+v, want a final UNAUTHENTICATED error, then complete", events)
	}
	e.waitOpen(1) // only the new key's subscription
	select {
	case <-kept.Done:
		t.Fatalf("the socket signed by the new key closed: %d %q", kept.CloseErr.Code, kept.CloseErr.Reason)
	default:
	}
}

// commits counts the COMMITs the proxy has seen: the transactions the server's pool ended.
func commits(p *pgwire.Proxy) int {
	n := 0
	for _, st := range p.Snapshot().Statements {
		if strings.EqualFold(strings.TrimSpace(st.SQL), "COMMIT") {
			n++
		}
	}
	return n
}

// TestBoundOperationsOnOneSocket: one socket sends 200 subscribe messages, each a page of 100
// large tasks, and never reads (issue 20's sixth row over a WebSocket, scaled down): operations
// on a socket run with bounded concurrency and its writes have a deadline, so the socket is
// dropped after a few answers instead of running 200 queries nobody reads; another user is
// answered meanwhile.
func TestBoundOperationsOnOneSocket(t *testing.T) {
	t.Parallel()
	direct := testkit.NewDBURL(t)
	counted, proxy := testkit.ProxyDBURL(t, direct) // the pool's statements are recorded
	e := &boundsEnv{liveEnv: newLiveEnvOn(t, direct, map[string]string{
		"DATABASE_URL": counted, "DATABASE_LISTEN_URL": direct, "OPERATIONS_PER_USER": "2"})} // over a socket too
	e.base = e.srv.Base
	heavy, heavyTok := e.user("heavy")
	_, honest := e.user("honest")
	testkit.InsertTaggedTasks(t, e.db, db.AppRole, heavy.UUID, 300, 5000)
	e.honestMe(honest, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	write := func(m testkit.WSMessage) error {
		b, _ := json.Marshal(m)
		return c.Write(ctx, websocket.MessageText, b)
	}
	payload, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + heavyTok})
	_ = write(testkit.WSMessage{Type: "connection_init", Payload: payload})
	if _, data, err := c.Read(ctx); err != nil || !strings.Contains(string(data), "connection_ack") {
		t.Fatalf("connection_init: %s %v", data, err)
	}
	before := commits(proxy)
	q, _ := json.Marshal(map[string]string{"query": `{ tasks(first: 100) { edges { node { id title description tags { id name } } } } }`})
	sent := 0
	go func() {
		for i := range 200 {
			wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
			b, _ := json.Marshal(testkit.WSMessage{ID: fmt.Sprint(i), Type: "subscribe", Payload: q})
			err := c.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				return
			}
			sent++
		}
	}()
	time.Sleep(200 * time.Millisecond)
	e.honestMe(honest, 4)
	testkit.WaitFor(t, "the socket dropped (its request logged)", 40*time.Second, func() bool {
		for _, l := range testkit.LogLines(e.srv.Stderr.String()) {
			if l["msg"] == "request" && l["method"] == "GET" && l["path"] == "/graphql" {
				return true
			}
		}
		return false
	})
	ran := commits(proxy) - before // a read is one transaction
	t.Logf("%d page queries ran for the unread socket", ran)
	if ran >= 100 {
		t.Fatalf("%d of 200 page queries ran for a socket that read none", ran)
	}
}

// TestBoundSSEQueryKeepsTheWriteDeadline: a query asked for as an event stream and never read
// (issue 20's fifth row: 60 such answers of 5.9 MB held 727 MB for over a minute) is cut at the
// server's write timeout, as the same query over JSON is; a subscription's stream outlives that
// timeout (each of its writes gets a deadline of its own).
func TestBoundSSEQueryKeepsTheWriteDeadline(t *testing.T) {
	t.Parallel()
	const writeTimeout = 60 * time.Second // serveHTTP's WriteTimeout (httpserver.go)
	e := newBoundsEnv(t, nil)
	u, tok := e.user("reader")
	testkit.InsertTaggedTasks(t, e.db, db.AppRole, u.UUID, 100, 10_000) // 7 aliases of the page: about 7 MB

	unread := func(accept string) int {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
		if err != nil {
			t.Error(err)
			return 0
		}
		defer c.Close()
		_ = c.(*net.TCPConn).SetReadBuffer(256 << 10) // with the server's send buffer (4 MB at most), less than the answer
		page := "tasks(first: 100) { nodes { id description } }"
		body := `{"query":"{ a: ` + page + ` b: ` + page + ` c: ` + page + ` d: ` + page + ` e: ` + page + ` f: ` + page + ` g: ` + page + ` }"}`
		fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", accept, tok, len(body), body)
		time.Sleep(writeTimeout + 2*time.Second) // not reading
		n, buf := 0, make([]byte, 64<<10)
		for { // until the connection ends, or a second passes without a byte
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			m, err := c.Read(buf)
			n += m
			if err != nil {
				return n
			}
		}
	}
	if _, b, err := post(e.base+"/graphql", tok, `{ a: tasks(first: 100) { nodes { id description } } }`, nil); err != nil || len(b) < 900_000 {
		t.Fatalf("one page is %d bytes, not about 1 MB (%v)", len(b), err)
	}
	// The subscription's stream is opened first and waits through both unread answers (a minute
	// each, side by side: the timeout is serve's own).
	sse := testkit.OpenSSE(t, e.base, tok, `subscription { taskEvents { kind id } }`)
	e.waitOpen(1)
	var wg sync.WaitGroup
	for _, accept := range []string{"text/event-stream", "application/json"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n := unread(accept); n > 6_000_000 {
				t.Errorf("an unread %s answer was kept past the write timeout: %d bytes read later", accept, n)
			}
		}()
	}
	wg.Wait()
	testkit.MutateOK(t, e.base, tok, `mutation { createTask(input: {title: "late"}) { id } }`, nil, "createTask")
	if ev := sse.Next(5 * time.Second); !strings.Contains(ev.Data, "CREATED") {
		t.Fatalf("the stream after the write timeout: %+v", ev)
	}
}
