package live

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Websocket serves GraphQL over WebSocket (graphql-transport-ws) at the upgrade of GET /graphql.
//
// Authentication: the token comes in connection_init's payload as {"Authorization": "Bearer
// <jwt>"} (or "authorization"), or in the upgrade request's Authorization header; not both. It is
// verified by auth.Verifier.Authenticate, as on HTTP (the same reasons and metrics). A missing or
// refused token closes the socket with 4403 and the reason (missing_token, token_expired, ...), a
// server without keys yet with 1013 auth_unavailable; at the token's expiry (exp plus
// AUTH_CLOCK_SKEW) the socket closes with 4403 token_expired.
type Websocket struct {
	hub         *Hub
	verifier    *auth.Verifier
	allowOrigin func(*http.Request) bool
}

// Websocket returns the WebSocket transport. allowOrigin says whether a request's Origin header
// is allowed (CORS_ORIGINS); a request without one (a non-browser client), or from the server's
// own origin, always is.
func (h *Hub) Websocket(v *auth.Verifier, allowOrigin func(*http.Request) bool) *Websocket {
	return &Websocket{hub: h, verifier: v, allowOrigin: allowOrigin}
}

// IsUpgrade says whether r asks for a protocol upgrade (Websocket.Handler's requests).
func IsUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Handler checks an upgrade request before gqlgen accepts it: a WebSocket upgrade (else 400), an
// allowed Origin (else 403), the graphql-transport-ws subprotocol (else the socket closes with
// 4406). next is the GraphQL handler holding Transport.
func (w *Websocket) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			apierr.Write(rw, http.StatusBadRequest, apierr.BadRequest, "only WebSocket upgrades are served here", nil)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) && w.allowOrigin != nil && !w.allowOrigin(r) {
			apierr.Write(rw, http.StatusForbidden, apierr.Forbidden, "this Origin is not allowed (CORS_ORIGINS)", nil)
			return
		}
		if !offers(r, subprotocol) {
			refuseSubprotocol(rw, r)
			return
		}
		s := w.hub.newSession(wsSession)
		defer s.finish()
		s.header = r.Header.Values("Authorization")
		next.ServeHTTP(rw, r.WithContext(withSession(r.Context(), s)))
	})
}

// sameOrigin says whether a browser's Origin is this server's own (the embedded GraphiQL): a
// page of the API's origin needs no CORS_ORIGINS entry, as on HTTP.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func offers(r *http.Request, proto string) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

// refuseSubprotocol answers as graphql-ws's own server does: accept, then close with 4406.
func refuseSubprotocol(rw http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(rw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the request
	}
	_ = c.Close(closeBadSubproto, "Subprotocol not acceptable")
}

// Transport is gqlgen's WebSocket transport with our authentication and close codes. It only
// takes the requests Handler has checked. Keep-alive pings are the hub's (one goroutine for all
// sockets, where gqlgen's PingPongInterval runs one per socket): a client that does not answer
// within two intervals is dropped.
func (w *Websocket) Transport() graphql.Transport {
	return wsTransport{transport.Websocket{
		Implementation: acceptor{hub: w.hub},
		InitFunc:       w.init,
		InitTimeout:    w.hub.cfg.InitTimeout,
		// Until connection_init is accepted a message is at most PreInitReadLimit; init raises it.
		PayloadReadLimit: &preInitReadLimit,
	}}
}

type wsTransport struct{ transport.Websocket }

func (t wsTransport) Supports(r *http.Request) bool {
	s := sessionFrom(r.Context())
	return s != nil && s.kind == wsSession
}

var preInitReadLimit int64 = PreInitReadLimit

// errRefused makes gqlgen close the socket with the code and reason init put in the context.
var errRefused = errors.New("refused")

// init authenticates connection_init.
func (w *Websocket) init(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	s := sessionFrom(ctx)
	values, e := authorization(s.header, payload)
	if e == nil {
		ctx, e = w.verifier.Authenticate(ctx, values)
	}
	if e != nil {
		code, reason := closeForbidden, e.Reason
		if e.Unavailable {
			code, reason = closeTryAgainLater, "auth_unavailable"
		}
		ctx = transport.WithWebsocketCloseCode(ctx, code)
		return transport.AppendCloseReason(ctx, reason), nil, errRefused
	}
	u, _ := auth.UserFrom(ctx)
	if !s.claimSocket(u.UUID) {
		ctx = transport.WithWebsocketCloseCode(ctx, closeTooManySockets)
		return transport.AppendCloseReason(ctx, "too_many_sockets"), nil, errTooManySockets
	}
	s.conn.SetReadLimit(ReadLimit) // trusted from now on (PreInitReadLimit before)
	s.authenticatedWith(values)
	return s.started(ctx, u.Expiry), nil, nil
}

var errTooManySockets = errors.New("you have as many sockets and event streams open as you may (SOCKETS_PER_USER); close one first")

// authorization is the token's Authorization value: connection_init's, or the upgrade request's.
func authorization(header []string, payload transport.InitPayload) ([]string, *auth.Error) {
	payload = connectionParams(payload)
	var values []string
	for _, key := range []string{"Authorization", "authorization"} {
		v, ok := payload[key]
		if !ok {
			continue
		}
		str, isString := v.(string)
		if !isString {
			return nil, &auth.Error{Reason: auth.ReasonMalformedToken, Message: "connection_init's Authorization must be a string, \"Bearer <jwt>\""}
		}
		values = append(values, str)
	}
	switch {
	case len(values) > 0 && len(header) > 0:
		return nil, &auth.Error{Reason: auth.ReasonMalformedToken, Message: "send the token once: in connection_init or in the upgrade request, not both"}
	case len(values) > 0:
		return values, nil
	}
	return slices.Clone(header), nil
}
