package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The verified-token cache: a browser sends the same token with every request until it expires,
// and verifying it again (an Ed25519 signature, the JSON of header and claims) was the largest
// part of the server's own work for a cheap request. A token is cached only after it verified,
// under the SHA-256 of its bytes, with what decides whether the verifier would still accept it:
// its validity window (nbf/iat and exp, with the clock skew, as jwt checks them) and the key
// that verified it. A lookup answers only while the clock is inside the window and the JWKS
// still holds that same key (same kid, same public key); anything else goes through the full
// verification. Refusals are never cached. Tokens without a kid (checked against every key) and
// users found by sub (the lookup has its own cache, with a shorter life) are not cached.
const tokenCacheSize = 10_000

type tokenCache struct {
	size    int
	mu      sync.Mutex
	entries map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	user        User
	from, until time.Time // valid while from ≤ now < until
	kid         string
	key         [sha256.Size]byte // the fingerprint of the key that verified it
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, entries: make(map[[sha256.Size]byte]tokenEntry)}
}

// get returns the user of a cached token that the verifier would accept now with keys.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time, keys map[string][sha256.Size]byte) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sum]
	if !ok {
		return User{}, false
	}
	if key, held := keys[e.kid]; !held || key != e.key || !now.Before(e.until) {
		delete(c.entries, sum) // the key left the JWKS (or changed), or the token expired
		return User{}, false
	}
	if now.Before(e.from) {
		return User{}, false
	}
	return e.user, true
}

// put caches a token that has just verified with keys (the fingerprints of the JWKS it was
// verified against), unless its key is not among them (a fetch replaced them meanwhile).
func (c *tokenCache) put(sum [sha256.Size]byte, now time.Time, tok *jwt.Token, claims jwt.MapClaims, skew time.Duration, u User, keys map[string][sha256.Size]byte) {
	kid, _ := tok.Header["kid"].(string)
	key, held := keys[kid]
	exp, _ := claims.GetExpirationTime()
	if kid == "" || !held || exp == nil || c.size <= 0 {
		return
	}
	e := tokenEntry{user: u, until: exp.Add(skew), kid: kid, key: key}
	for _, get := range []func() (*jwt.NumericDate, error){claims.GetNotBefore, claims.GetIssuedAt} {
		if t, _ := get(); t != nil && t.Add(-skew).After(e.from) {
			e.from = t.Add(-skew)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	makeRoom(c.entries, c.size, func(old tokenEntry) bool { return !now.Before(old.until) })
	c.entries[sum] = e
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// fingerprints are the keys of a JWKS by kid: the SHA-256 of each public key's PKIX encoding.
// A key that cannot be encoded is left out (its tokens are then verified every time).
func fingerprints(keys []jwkset.JWK) map[string][sha256.Size]byte {
	out := make(map[string][sha256.Size]byte, len(keys))
	for _, k := range keys {
		kid := k.Marshal().KID
		der, err := x509.MarshalPKIXPublicKey(k.Key())
		if kid == "" || err != nil {
			continue
		}
		out[kid] = sha256.Sum256(der)
	}
	return out
}
