package auth

import (
	"context"

	"github.com/golang-jwt/jwt/v5"
)

// Published reports whether the key that verified token, a token this verifier accepted before,
// is still in the JWKS as last fetched: a long-lived connection authenticated with a key that has
// left the JWKS ends at the next refresh, as a new request with that token is refused at once.
// A token without a kid needs some key that can verify its algorithm. Nothing is fetched here.
func (v *Verifier) Published(ctx context.Context, token string) bool {
	t, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil || t.Method == nil {
		return false
	}
	kid, _ := t.Header["kid"].(string)
	all, _ := v.keys.storage.KeyReadAll(ctx) // the memory storage never fails
	for _, jwk := range all {
		if (kid == "" || jwk.Marshal().KID == kid) && jwkFits(jwk, t.Method.Alg()) {
			return true
		}
	}
	return false
}
