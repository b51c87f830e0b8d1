package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer is the built-in development issuer of `go run . dev`: it signs tokens the way Better
// Auth does (EdDSA, iss = aud = base URL, a kid header, no typ) with an Ed25519 key (dev keeps it
// in a file, so its tokens survive a restart), and serves the public key as a JWKS. It is for
// local exploration only.
type DevIssuer struct {
	base string
	kid  string
	priv ed25519.PrivateKey
	jwks []byte
}

// NewDevIssuer creates an issuer whose tokens carry iss = aud = baseURL, with a fresh key.
func NewDevIssuer(baseURL string) (*DevIssuer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	return NewDevIssuerWithKey(baseURL, priv)
}

// NewDevIssuerWithKey creates an issuer that signs with priv. Its kid is derived from the public
// key, so the same key always makes the same JWKS and earlier tokens keep verifying.
func NewDevIssuerWithKey(baseURL string, priv ed25519.PrivateKey) (*DevIssuer, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	if err := checkURL(baseURL); err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("dev issuer: not an Ed25519 private key")
	}
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	d := &DevIssuer{base: baseURL, kid: hex.EncodeToString(sum[:16]), priv: priv}
	// The same shape as Better Auth 1.7's JWKS: alg, crv, x, kty, kid; no use, no private part.
	var err error
	d.jwks, err = json.Marshal(map[string]any{"keys": []map[string]string{{
		"alg": "EdDSA", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub), "kty": "OKP", "kid": d.kid,
	}}})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// LoadOrCreateDevKey reads the Ed25519 key kept in path (PKCS#8 PEM), or creates one there
// (0600, its folder 0700) when the file does not exist. created says which happened.
func LoadOrCreateDevKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, false, fmt.Errorf("%s: not a PEM private key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, false, fmt.Errorf("%s: not an Ed25519 key", path)
		}
		return priv, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two dev processes starting at once agree on the first key written.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateDevKey(path)
	}
	if err != nil {
		return nil, false, err
	}
	if err := errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Close()); err != nil {
		return nil, false, err
	}
	return priv, true, nil
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
