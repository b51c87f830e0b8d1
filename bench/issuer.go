package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is the bench's Ed25519 key, as Better Auth's jwt plugin would make one.
type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return &signingKey{kid: hex.EncodeToString(b), priv: priv}, nil
}

// issuer plays Better Auth for one server: it publishes the key at {url}/api/auth/jwks and counts
// the fetches.
type issuer struct {
	url     string // BETTER_AUTH_URL = iss = aud
	srv     *http.Server
	fetches atomic.Int64
}

func startIssuer(k *signingKey) (*issuer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Like Better Auth's JWKS: OKP/Ed25519 with a kid and no alg.
	doc, err := json.Marshal(map[string]any{"keys": []any{map[string]string{
		"kty": "OKP", "crv": "Ed25519", "kid": k.kid,
		"x": base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)),
	}}})
	if err != nil {
		return nil, err
	}
	i := &issuer{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/auth/jwks", func(w http.ResponseWriter, r *http.Request) {
		i.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	i.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = i.srv.Serve(ln) }()
	return i, nil
}

func (i *issuer) close() { _ = i.srv.Close() }

// tokens are one build's bearer tokens: one per round-robin user, and as many distinct ones for
// the heavy user (so that no request repeats the previous one's token string).
type tokens struct {
	users, heavy []string
}

// tokenTTL outlives any bench run.
const tokenTTL = 2 * time.Hour

// mint signs a token shaped like Better Auth's with definePayload (uuid, email, name). iatAgo
// varies iat, which makes tokens for the same user distinct strings.
func (i *issuer) mint(k *signingKey, u *userData, iatAgo time.Duration) (string, error) {
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"sub": u.sub, "uuid": u.uuid, "email": u.email, "name": u.name,
		"iat": now.Add(-iatAgo).Unix(), "exp": now.Add(tokenTTL).Unix(),
		"iss": i.url, "aud": i.url,
	})
	t.Header = map[string]any{"alg": "EdDSA", "kid": k.kid}
	return t.SignedString(k.priv)
}

func (i *issuer) mintAll(k *signingKey, ds *dataset) (tokens, error) {
	var ts tokens
	for j, u := range ds.users {
		tok, err := i.mint(k, u, 0)
		if err != nil {
			return ts, err
		}
		ts.users = append(ts.users, tok)
		tok, err = i.mint(k, ds.heavy, time.Duration(j)*time.Second)
		if err != nil {
			return ts, err
		}
		ts.heavy = append(ts.heavy, tok)
	}
	return ts, nil
}
