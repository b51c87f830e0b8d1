package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"github.com/taskgraph/taskgraph/internal/jsonlimit"
)

// subprotocol is the only WebSocket subprotocol served: graphql-ws's (urql's subscriptionExchange
// and Apollo's GraphQLWsLink use it). gqlgen's older "graphql-ws" subprotocol is not offered.
const subprotocol = "graphql-transport-ws"

// acceptor is the transport's WebsocketImplementation: gqlgen's coder/websocket adapter, plus
// the session's close codes, a write timeout and the operation bookkeeping Shutdown needs.
type acceptor struct{ hub *Hub }

func (a acceptor) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	s := sessionFrom(r.Context())
	for k, vs := range opts.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	// The origin was checked against CORS_ORIGINS before (Websocket.Handler).
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{subprotocol}, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	conn := &wsConn{c: c, s: s, ids: newOpIDs(), writeTimeout: a.hub.cfg.WriteTimeout}
	s.mu.Lock() // Shutdown may be reading it already
	s.conn = conn
	s.mu.Unlock()
	return conn, nil
}

// wsConn is gqlgen's coderWebsocketConn with four changes: WriteClose sends the code the
// session decided (gqlgen closes a cancelled connection with 1000 "terminated"), a write that
// takes longer than writeTimeout drops the socket, the operations' starts and ends are noted, and
// an id the client reuses is renamed for gqlgen (wsids.go).
type wsConn struct {
	c            *websocket.Conn
	s            *session
	ids          *opIDs
	writeTimeout time.Duration

	mu           sync.Mutex
	readDeadline *time.Timer
	closing      bool
}

var (
	_ transport.WebsocketConn          = (*wsConn)(nil)
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

// header is the part of a graphql-transport-ws message the bookkeeping reads.
type header struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.c.Read(context.Background())
	if errors.Is(err, websocket.ErrMessageTooBig) {
		c.dropTooBig()
		return int(typ), nil, transport.ErrWebsocketClosed
	}
	if err != nil {
		if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusNoStatusRcvd {
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	if jsonlimit.Over(data, jsonlimit.MaxMembers) {
		c.refuse(closeBadRequest, "too many JSON object members")
		return int(typ), nil, transport.ErrWebsocketClosed
	}
	var h header
	if json.Unmarshal(data, &h) == nil {
		if h.Type == "subscribe" {
			if c.s.isOpen(h.ID) {
				c.refuse(closeDuplicateID, "Subscriber for "+h.ID+" already exists")
				return int(typ), nil, transport.ErrWebsocketClosed
			}
			if !c.s.takeSlot(c.writeTimeout) {
				c.refuse(closeSlowConsumer, "too_many_operations")
				return int(typ), nil, transport.ErrWebsocketClosed
			}
		}
		c.s.received(h.Type, h.ID)
		if inner := c.ids.received(h.Type, h.ID); inner != h.ID {
			if data, err = withID(data, inner); err != nil {
				return int(typ), nil, err
			}
		}
	}
	return int(typ), bytes.NewReader(data), nil
}

// dropTooBig ends a socket whose message passed the read limit. coder has sent the close
// (1009); a close handshake would now read, and throw away, the rest of the message, up to 1 MiB
// for every socket of a flood: the connection is dropped instead, shortly after, once the client
// has had a moment to read the close.
func (c *wsConn) dropTooBig() {
	c.mu.Lock()
	c.closing = true // no handshake (WriteClose, Close)
	c.mu.Unlock()
	time.AfterFunc(250*time.Millisecond, func() { _ = c.c.CloseNow() })
}

// refuse closes the socket with code and reason for a message the reader will not pass on; the
// close handshake starts before the reader returns, so that gqlgen's teardown cannot cut it.
func (c *wsConn) refuse(code int, reason string) {
	c.s.disconnect(code, reason)
	_ = c.WriteClose(code, reason)
}

// gqlgen's messages end with their type (its struct's last field).
var (
	completeSuffix = []byte(`"type":"complete"}`)
	errorSuffix    = []byte(`"type":"error"}`)
)

func (c *wsConn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ends := bytes.HasSuffix(data, completeSuffix) || bytes.HasSuffix(data, errorSuffix)
	var h header
	if (ends || c.ids.busy()) && json.Unmarshal(data, &h) == nil {
		client, keep := c.ids.sent(h.Type, h.ID)
		if !keep {
			return nil // the client completed it
		}
		if client != h.ID {
			if data, err = withID(data, client); err != nil {
				return err
			}
			h.ID = client
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout)
	defer cancel()
	err = c.c.Write(ctx, websocket.MessageText, data)
	if ends && h.Type != "" {
		c.s.opEnded(h.ID)
	}
	return err
}

// writeRaw writes a message of our own beside gqlgen's (coder's writes may be concurrent).
func (c *wsConn) writeRaw(msg []byte, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = c.c.Write(ctx, websocket.MessageText, msg)
}

func (c *wsConn) WriteClose(code int, reason string) error {
	c.stopReadDeadline()
	code, reason = c.s.closeStatus(code, reason)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	c.mu.Unlock()
	// The close handshake waits up to 5s for the peer: not on gqlgen's teardown path.
	go func() { _ = c.c.Close(websocket.StatusCode(code), reason) }()
	return nil
}

func (c *wsConn) Close() error {
	c.stopReadDeadline()
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return nil // the close handshake owns the connection
	}
	return c.c.CloseNow()
}

func (c *wsConn) Subprotocol() string { return c.c.Subprotocol() }

func (c *wsConn) SetReadLimit(limit int64) { c.c.SetReadLimit(limit) }

// SetReadDeadline lets gqlgen drop a client that stops answering pings.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readDeadline != nil {
		c.readDeadline.Stop()
		c.readDeadline = nil
	}
	if !t.IsZero() {
		c.readDeadline = time.AfterFunc(time.Until(t), func() { _ = c.c.CloseNow() })
	}
	return nil
}

func (c *wsConn) stopReadDeadline() { _ = c.SetReadDeadline(time.Time{}) }
