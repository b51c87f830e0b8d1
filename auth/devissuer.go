package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer is the built-in development issuer of `go run . dev`: it signs tokens the way Better
// Auth does (EdDSA, iss = aud = base URL, a kid header, no typ) with a fresh Ed25519 key per
// process, and serves the public key as a JWKS. It is for local exploration only.
type DevIssuer struct {
	base string
	kid  string
	priv ed25519.PrivateKey
	jwks []byte
}

// NewDevIssuer creates an issuer whose tokens carry iss = aud = baseURL.
func NewDevIssuer(baseURL string) (*DevIssuer, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	if err := checkURL(baseURL); err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	kidBytes := make([]byte, 16)
	if _, err := rand.Read(kidBytes); err != nil {
		return nil, fmt.Errorf("dev issuer kid: %w", err)
	}
	d := &DevIssuer{base: baseURL, kid: hex.EncodeToString(kidBytes), priv: priv}
	// The same shape as Better Auth 1.7's JWKS: alg, crv, x, kty, kid; no use, no private part.
	d.jwks, err = json.Marshal(map[string]any{"keys": []map[string]string{{
		"alg": "EdDSA", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub), "kty": "OKP", "kid": d.kid,
	}}})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// JWKSHandler serves the public key set.
func (d *DevIssuer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.jwks)
	})
}

// Mint returns a token for u valid for ttl, with the claims Better Auth's definePayload would set
// (sub, uuid, email, name) plus iat, exp, iss and aud.
func (d *DevIssuer) Mint(u User, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", errors.New("dev issuer: ttl must be positive")
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": u.ID, "uuid": u.UUID.String(), "email": u.Email, "name": u.Name,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "iss": d.base, "aud": d.base,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header = map[string]any{"alg": "EdDSA", "kid": d.kid}
	return tok.SignedString(d.priv)
}
