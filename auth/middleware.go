package auth

import (
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
			if len(values) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			user, e := v.authenticate(r, values)
			if e != nil {
				if v.hooks.AuthFailure != nil {
					v.hooks.AuthFailure(e.Reason)
				}
				writeAuthError(w, e, v.cfg)
				return
			}
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
		})
	}
}

func (v *Verifier) authenticate(r *http.Request, values []string) (User, *Error) {
	token, e := bearerToken(values)
	if e != nil {
		return User{}, e
	}
	user, err := v.Verify(r.Context(), token)
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

// writeAuthError answers 401 UNAUTHENTICATED with the reason, or 503 AUTH_UNAVAILABLE with
// Retry-After, in the GraphQL shape clients already parse.
func writeAuthError(w http.ResponseWriter, e *Error, cfg Config) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if e.Unavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(cfg)))
		apierr.Write(w, http.StatusServiceUnavailable, apierr.AuthUnavailable, e.Message, nil)
		return
	}
	// The reason strings are plain ASCII words, safe inside a quoted-string.
	h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+e.Reason+`"`)
	apierr.Write(w, http.StatusUnauthorized, apierr.Unauthenticated, e.Message, map[string]string{"reason": e.Reason})
}

func retryAfterSeconds(cfg Config) int {
	return max(1, int(cfg.JWKSTimeout.Seconds()+0.5))
}
