package testkit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/taskgraph/taskgraph/auth"
)

// Key is a real signing key pair, as Better Auth's jwt plugin would create one.
type Key struct {
	KID     string
	Alg     string // EdDSA, ES256, ES512, RS256 or PS256
	Private crypto.Signer
}

// NewKey generates a key for alg with a random 32-character kid (like Better Auth's).
func NewKey(t testing.TB, alg string) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "EdDSA", "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("testkit.NewKey: unsupported algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("testkit.NewKey(%s): %v", alg, err)
	}
	return &Key{KID: randomKID(t), Alg: alg, Private: priv}
}

func randomKID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// JWK returns the public JWK as Better Auth publishes it: kid, kty, crv/x/y or n/e, alg; no use.
func (k *Key) JWK(t testing.TB) map[string]any {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(k.Private.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(k.Alg)},
	})
	if err != nil {
		t.Fatalf("testkit: JWK of %s key: %v", k.Alg, err)
	}
	raw, err := json.Marshal(jwk.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Sign signs claims with k. header entries are added to the JOSE header (a nil value removes the
// entry, e.g. {"kid": nil}). Like Better Auth, the header carries alg and kid but no typ.
func (k *Key) Sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	method := jwt.GetSigningMethod(k.Alg)
	if method == nil {
		t.Fatalf("testkit: no signing method %q", k.Alg)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = map[string]any{"alg": k.Alg, "kid": k.KID}
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatalf("testkit: sign %s token: %v", k.Alg, err)
	}
	return s
}

// Issuer plays Better Auth: a real httptest server publishing a JWKS at URL+"/api/auth/jwks" and
// minting tokens shaped like Better Auth's (iss = aud = URL). It is closed when the test ends.
type Issuer struct {
	URL string // base URL = iss = aud
	Alg string

	srv     *httptest.Server
	fetches atomic.Int64

	mu        sync.Mutex
	current   *Key
	published []*Key
	raw       []byte // when set, served instead of the published keys
	down      bool
	stall     chan struct{} // when set, JWKS requests wait until it is closed (faults.go)
	stalled   atomic.Int64  // JWKS requests waiting on stall right now
}

// NewIssuer starts an issuer signing with a fresh key for alg (EdDSA, ES256, ES512, RS256, PS256).
func NewIssuer(t testing.TB, alg string) *Issuer {
	t.Helper()
	k := NewKey(t, alg)
	i := &Issuer{Alg: alg, current: k, published: []*Key{k}}
	i.srv = httptest.NewServer(http.HandlerFunc(i.serveJWKS))
	t.Cleanup(i.srv.Close)
	i.URL = i.srv.URL
	return i
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/auth/jwks" {
		http.NotFound(w, r)
		return
	}
	i.fetches.Add(1)
	i.mu.Lock()
	stall := i.stall
	i.mu.Unlock()
	if stall != nil {
		i.stalled.Add(1)
		select {
		case <-stall:
		case <-r.Context().Done(): // the client gave up
		}
		i.stalled.Add(-1)
	}
	i.mu.Lock()
	down, raw, keys := i.down, i.raw, append([]*Key(nil), i.published...)
	i.mu.Unlock()
	if down {
		http.Error(w, "JWKS down (testkit)", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if raw != nil {
		_, _ = w.Write(raw)
		return
	}
	doc := map[string]any{"keys": jwkList(keys)}
	_ = json.NewEncoder(w).Encode(doc)
}

// jwkList cannot call t.Fatal from the server goroutine, so it marshals without a testing.TB.
func jwkList(keys []*Key) []any {
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Private.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(k.Alg)},
		})
		if err == nil {
			out = append(out, jwk.Marshal())
		}
	}
	return out
}

// JWKSURL is where the issuer publishes its keys.
func (i *Issuer) JWKSURL() string { return i.URL + "/api/auth/jwks" }

// Key is the key new tokens are signed with.
func (i *Issuer) Key() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current
}

// Config returns a Config trusting this issuer (its algorithm allowed, default skew).
func (i *Issuer) Config() auth.Config {
	alg := i.Alg
	if alg == "Ed25519" {
		alg = "EdDSA"
	}
	return auth.Config{
		BetterAuthURL: i.URL,
		JWKSURL:       i.JWKSURL(),
		Issuer:        i.URL,
		Audiences:     []string{i.URL},
		Algorithms:    []string{alg},
		UUIDClaim:     auth.DefaultUUIDClaim,
		ClockSkew:     auth.DefaultClockSkew,
		JWKSRefresh:   auth.DefaultJWKSRefresh,
		JWKSTimeout:   2 * time.Second,
	}
}

// Verifier returns a verifier trusting this issuer, once its keys are loaded. Its background
// refresh stops when the test ends.
func (i *Issuer) Verifier(t testing.TB, lookup auth.SubLookup) *auth.Verifier {
	t.Helper()
	v := StartVerifier(t, i.Config(), lookup, auth.Hooks{})
	WaitKeysLoaded(t, v)
	return v
}

// StartVerifier builds a verifier without waiting for its keys; it stops when the test ends.
func StartVerifier(t testing.TB, cfg auth.Config, lookup auth.SubLookup, hooks auth.Hooks) *auth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.NewVerifier(ctx, cfg, lookup, hooks)
	if err != nil {
		t.Fatalf("auth.NewVerifier: %v", err)
	}
	return v
}

// WaitKeysLoaded fails the test unless v loads its JWKS within 10 seconds.
func WaitKeysLoaded(t testing.TB, v *auth.Verifier) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !v.KeysLoaded() {
		if time.Now().After(deadline) {
			t.Fatal("testkit: the verifier did not load the JWKS within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Claims returns the claims of a valid one-hour token for u, as Better Auth's definePayload
// (uuid, email, name) would produce them.
func (i *Issuer) Claims(u auth.User) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":   u.ID,
		"uuid":  u.UUID.String(),
		"email": u.Email,
		"name":  u.Name,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"iss":   i.URL,
		"aud":   i.URL,
	}
}

// TokenFor returns a valid one-hour token for u signed with the current key.
func (i *Issuer) TokenFor(t testing.TB, u auth.User) string {
	t.Helper()
	return i.Key().Sign(t, i.Claims(u), nil)
}

// Sign signs arbitrary claims with the current key, for odd tokens; see Key.Sign for header.
func (i *Issuer) Sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	return i.Key().Sign(t, claims, header)
}

// Rotate makes a fresh key the signing key and publishes only it: the old key is revoked.
func (i *Issuer) Rotate(t testing.TB) *Key {
	t.Helper()
	k := NewKey(t, i.Alg)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.current, i.published = k, []*Key{k}
	return k
}

// AddKey makes a fresh key the signing key and publishes it beside the old ones (a grace period).
func (i *Issuer) AddKey(t testing.TB) *Key {
	t.Helper()
	k := NewKey(t, i.Alg)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.current = k
	i.published = append(i.published, k)
	return k
}

// Publish sets exactly which keys the JWKS lists (the signing key stays as it is).
func (i *Issuer) Publish(keys ...*Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = append([]*Key(nil), keys...)
}

// ServeRaw makes the JWKS endpoint answer doc verbatim (nil: back to the published keys).
func (i *Issuer) ServeRaw(doc []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.raw = doc
}

// SetDown makes the JWKS endpoint answer 503 (an outage) or serve again.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// Fetches counts the JWKS requests served so far (also while down).
func (i *Issuer) Fetches() int { return int(i.fetches.Load()) }

// JWKSDocument returns the JWKS of keys, for ServeRaw variations.
func JWKSDocument(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
