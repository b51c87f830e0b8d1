package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Middleware authenticates requests. Without an Authorization header the request goes on
// anonymously (the @auth directive refuses guarded fields). A bad token is answered with 401, a
// WWW-Authenticate header (RFC 6750) and a GraphQL-shaped body naming the reason; a server that has
// never loaded a key answers 503 AUTH_UNAVAILABLE with Retry-After. The token is never logged or echoed.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values("Authorization")
			if len(values) == 0 || isEmptyAuthorization(values) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, e := v.Authenticate(r.Context(), values)
			if e != nil {
				writeAuthError(w, r, e, v.cfg)
				return
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Authenticate verifies the Authorization values of a request (or of a WebSocket's
// connection_init) exactly as Middleware does: one "Bearer <jwt>", verified, a refusal counted in
// Hooks.AuthFailure. It returns ctx carrying the User, or the refusal; no value at all is refused
// as ReasonMissingToken (Middleware never asks: it lets such a request go on anonymously).
func (v *Verifier) Authenticate(ctx context.Context, values []string) (context.Context, *Error) {
	user, e := v.authenticate(ctx, values)
	if e != nil {
		if v.hooks.AuthFailure != nil {
			v.hooks.AuthFailure(e.Reason)
		}
		return ctx, e
	}
	return withUser(ctx, user), nil
}

func (v *Verifier) authenticate(ctx context.Context, values []string) (User, *Error) {
	if len(values) == 0 {
		return User{}, refuse(ReasonMissingToken, "no token: send 'Authorization: Bearer <jwt>' with a token from Better Auth")
	}
	token, e := bearerToken(values)
	if e != nil {
		return User{}, e
	}
	user, err := v.Verify(ctx, token)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return User{}, e
		}
		return User{}, refuse(ReasonMalformedToken, "the token could not be verified")
	}
	return user, nil
}

// bearerToken extracts the token of exactly one "Bearer <token>" header (scheme case-insensitive).
func bearerToken(values []string) (string, *Error) {
	if len(values) > 1 {
		return "", refuse(ReasonMalformedToken, "the request has %d Authorization headers; send exactly one", len(values))
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", refuse(ReasonMalformedToken, "the Authorization scheme must be Bearer: 'Authorization: Bearer <jwt>'")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", refuse(ReasonMalformedToken, "the Authorization header says Bearer but carries no token")
	}
	if strings.ContainsAny(token, " \t") {
		return "", refuse(ReasonMalformedToken, "the bearer token contains whitespace; send one JWT")
	}
	return token, nil
}

// isEmptyAuthorization says whether the one Authorization header is empty: what Apollo's
// documented auth link sends when signed out (`authorization: token ? "Bearer ..." : ""`). It is
// no token at all, not a malformed one.
func isEmptyAuthorization(values []string) bool {
	return len(values) == 1 && strings.TrimSpace(values[0]) == ""
}

// writeAuthError answers 401 UNAUTHENTICATED with the reason, or 503 AUTH_UNAVAILABLE with
// Retry-After, in the GraphQL shape clients already parse, and in the media type the client
// accepts: under application/graphql-response+json a client reads the body whatever the status
// (Apollo Client 4 then sees the GraphQL error UNAUTHENTICATED and its refresh link fires;
// under application/json it raises a bare HTTP error).
func writeAuthError(w http.ResponseWriter, r *http.Request, e *Error, cfg Config) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if e.Unavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(cfg)))
		apierr.WriteAs(w, apierr.MediaType(r), http.StatusServiceUnavailable, apierr.AuthUnavailable, e.Message, nil)
		return
	}
	// The reason strings are plain ASCII words, safe inside a quoted-string.
	h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+e.Reason+`"`)
	apierr.WriteAs(w, apierr.MediaType(r), http.StatusUnauthorized, apierr.Unauthenticated, e.Message, map[string]string{"reason": e.Reason})
}

func retryAfterSeconds(cfg Config) int {
	return max(1, int(cfg.JWKSTimeout.Seconds()+0.5))
}
