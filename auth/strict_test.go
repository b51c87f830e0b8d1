package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// nonCanonical returns seg with its last character changed in the bits base64 leaves unused, so
// that a lenient decoder reads the same bytes: the same signature, spelled differently.
func nonCanonical(t *testing.T, seg string) string {
	t.Helper()
	if len(seg)%4 == 0 {
		t.Fatalf("segment of %d characters has no unused bits", len(seg))
	}
	last := strings.IndexByte(b64url, seg[len(seg)-1])
	alt := seg[:len(seg)-1] + string(b64url[last^1])
	lenient, err1 := base64.RawURLEncoding.DecodeString(alt)
	orig, err2 := base64.RawURLEncoding.DecodeString(seg)
	if err1 != nil || err2 != nil || string(lenient) != string(orig) {
		t.Fatalf("%q is not an equivalent of %q", alt, seg)
	}
	return alt
}

// TestVerifyRefusesOtherSpellingsOfAToken: a token verifies in one spelling only. The same
// signature (or payload) with non-canonical trailing bits, padding, or a line break inside is
// malformed_token, for every algorithm.
func TestVerifyRefusesOtherSpellingsOfAToken(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			iss := testkit.NewIssuer(t, alg)
			v := iss.Verifier(t, nil)
			tok := iss.TokenFor(t, testUser())
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("the token itself: %v", err)
			}
			p := strings.Split(tok, ".")
			variants := map[string]string{
				"padded signature": tok + strings.Repeat("=", (4-len(p[2])%4)%4),
				"line break":       p[0] + "." + p[1] + ".\n" + p[2],
			}
			if len(p[2])%4 != 0 {
				variants["non-canonical signature"] = p[0] + "." + p[1] + "." + nonCanonical(t, p[2])
			}
			if len(p[1])%4 != 0 {
				variants["non-canonical payload"] = p[0] + "." + nonCanonical(t, p[1]) + "." + p[2]
			}
			for name, bad := range variants {
				if bad == tok {
					continue
				}
				if got := reasonOf(t, verifyErr(v, bad)); got != auth.ReasonMalformedToken {
					t.Errorf("%s: reason %q, want %s", name, got, auth.ReasonMalformedToken)
				}
			}
		})
	}
}

func verifyErr(v *auth.Verifier, token string) error {
	_, err := v.Verify(context.Background(), token)
	return err
}

// TestVerifyRefusesCriticalExtensions: RFC 7515 §4.1.11, a crit header names extensions the
// recipient must understand; this server understands none, so any crit is malformed_token.
func TestVerifyRefusesCriticalExtensions(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	claims := iss.Claims(testUser())
	for _, crit := range []any{[]string{"exp"}, []string{"urn:example:unknown"}, []string{}, "b64"} {
		tok := iss.Sign(t, claims, map[string]any{"crit": crit, "urn:example:unknown": true, "b64": false})
		if got := reasonOf(t, verifyErr(v, tok)); got != auth.ReasonMalformedToken {
			t.Errorf("crit %v: reason %q, want %s", crit, got, auth.ReasonMalformedToken)
		}
	}
	// An unknown header without crit is ignored, as RFC 7515 says.
	if err := verifyErr(v, iss.Sign(t, claims, map[string]any{"urn:example:unknown": true})); err != nil {
		t.Errorf("an unknown non-critical header: %v", err)
	}
}

// TestJWKSRedirectsStayInTheirOrigin: the JWKS URL redirecting to another server (another port
// of the same host is another origin) does not make that server's keys trusted; a redirect within
// the origin is followed.
func TestJWKSRedirectsStayInTheirOrigin(t *testing.T) {
	evil := testkit.NewIssuer(t, "EdDSA") // its keys must never be trusted
	var hits atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/api/auth/jwks":
			http.Redirect(w, r, evil.JWKSURL(), http.StatusFound)
		case "/same-origin":
			http.Redirect(w, r, "/api/auth/jwks-moved", http.StatusMovedPermanently)
		case "/api/auth/jwks-moved":
			http.Redirect(w, r, evil.JWKSURL(), http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	}))
	defer front.Close()

	cfg := evil.Config() // trusts the evil issuer's iss and aud: only the keys are in question
	cfg.JWKSURL = front.URL + "/api/auth/jwks"
	fetched := make(chan error, 10)
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{JWKSFetch: func(err error) { fetched <- err }})
	select {
	case err := <-fetched:
		if err == nil || !strings.Contains(err.Error(), "another origin") {
			t.Fatalf("fetch through a cross-origin redirect: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no JWKS fetch")
	}
	if v.KeysLoaded() || evil.Fetches() != 0 {
		t.Fatalf("keys loaded %v, the other origin asked %d times", v.KeysLoaded(), evil.Fetches())
	}
	var e *auth.Error
	if err := verifyErr(v, evil.TokenFor(t, testUser())); !errors.As(err, &e) || !e.Unavailable {
		t.Fatalf("a token signed by the other origin's key: %v", err)
	}

	// verify-jwks and doctor refuse it the same way.
	var out strings.Builder
	if err := auth.VerifyJWKS(context.Background(), &out, cfg.JWKSURL, time.Second); err == nil || !strings.Contains(out.String(), "another origin") {
		t.Errorf("verify-jwks through a cross-origin redirect: %v\n%s", err, out.String())
	}

	// Within the origin, redirects are followed (here to a page redirecting onwards, refused).
	if err := auth.VerifyJWKS(context.Background(), &out, front.URL+"/same-origin", time.Second); err == nil || hits.Load() < 3 {
		t.Errorf("same-origin redirect chain: %v, %d hits", err, hits.Load())
	}
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(testkit.JWKSDocument(t, evil.Key().JWK(t)))
	}))
	defer same.Close()
	out.Reset()
	if err := auth.VerifyJWKS(context.Background(), &out, same.URL+"/old", time.Second); err != nil {
		t.Errorf("a redirect within the origin is not followed: %v\n%s", err, out.String())
	}
}
