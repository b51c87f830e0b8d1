package auth_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func TestVerifyJWKS(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	good := iss.Key().JWK(t)
	withPrivate := testkit.NewKey(t, "ES256").JWK(t)
	withPrivate["d"] = "c2VjcmV0"
	enc := testkit.NewKey(t, "RS256").JWK(t)
	enc["use"] = "enc"
	broken := map[string]any{"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AAAA"}

	for _, tc := range []struct {
		name    string
		doc     string
		ok      bool
		mention string
	}{
		{"a Better Auth JWKS", string(testkit.JWKSDocument(t, good)), true, "kid=" + iss.Key().KID},
		{"an encryption key beside it", string(testkit.JWKSDocument(t, good, enc)), true, "use=enc"},
		{"empty set", `{"keys":[]}`, false, "empty"},
		{"not JSON", `<html>hello</html>`, false, "not a JSON"},
		{"private material", string(testkit.JWKSDocument(t, good, withPrivate)), false, "private key material (d)"},
		{"a key that does not parse", string(testkit.JWKSDocument(t, good, broken)), false, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss.ServeRaw([]byte(tc.doc))
			var out bytes.Buffer
			err := auth.VerifyJWKS(context.Background(), &out, iss.JWKSURL(), time.Second)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v\n%s", err, tc.ok, out.String())
			}
			if !strings.Contains(out.String(), tc.mention) {
				t.Fatalf("output lacks %q:\n%s", tc.mention, out.String())
			}
			if !strings.Contains(out.String(), "200 OK") {
				t.Fatalf("output lacks the status:\n%s", out.String())
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		var out bytes.Buffer
		if err := auth.VerifyJWKS(context.Background(), &out, srv.URL+"/api/auth/jwks", time.Second); err == nil {
			t.Fatalf("no error for a closed server:\n%s", out.String())
		}
	})
}

func TestVerifyToken(t *testing.T) {
	iss := testkit.NewIssuer(t, "PS256")
	u := testUser()
	var out bytes.Buffer
	if err := auth.VerifyToken(context.Background(), &out, iss.Config(), iss.TokenFor(t, u), nil); err != nil {
		t.Fatalf("good token: %v\n%s", err, out.String())
	}
	for _, want := range []string{`"alg": "PS256"`, `"uuid": "` + u.UUID.String(), "expires ", "OK: user uuid=" + u.UUID.String()} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}

	c := iss.Claims(u)
	c["uuid"] = u.ID
	tok := iss.Sign(t, c, nil)
	out.Reset()
	err := auth.VerifyToken(context.Background(), &out, iss.Config(), tok, nil)
	if err == nil || !strings.Contains(out.String(), "FAIL: invalid_claim") || !strings.Contains(out.String(), "fix: ") {
		t.Fatalf("err = %v, output:\n%s", err, out.String())
	}
	if strings.Contains(out.String(), tok) {
		t.Fatal("the output echoes the token")
	}

	// With the user looked up by sub.
	delete(c, "uuid")
	out.Reset()
	lookup := &mapLookup{users: map[string]uuid.UUID{u.ID: u.UUID}}
	if err := auth.VerifyToken(context.Background(), &out, iss.Config(), "Bearer "+iss.Sign(t, c, nil), lookup); err != nil {
		t.Fatalf("sub lookup: %v\n%s", err, out.String())
	}

	iss.SetDown(true)
	out.Reset()
	if err := auth.VerifyToken(context.Background(), &out, iss.Config(), iss.TokenFor(t, u), nil); err == nil || !strings.Contains(out.String(), "JWKS: FAIL") {
		t.Fatalf("JWKS down: err = %v\n%s", err, out.String())
	}
}

func TestDevIssuer(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	d, err := auth.NewDevIssuer(base)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/auth/jwks", d.JWKSHandler())
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	var out bytes.Buffer
	if err := auth.VerifyJWKS(context.Background(), &out, base+"/api/auth/jwks", time.Second); err != nil {
		t.Fatalf("dev JWKS: %v\n%s", err, out.String())
	}
	cfg, err := auth.ConfigFromEnv(env(map[string]string{"BETTER_AUTH_URL": base}))
	if err != nil {
		t.Fatal(err)
	}
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
	testkit.WaitKeysLoaded(t, v)
	u := testUser()
	tok, err := d.Mint(u, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil || time.Until(got.Expiry) < time.Minute || time.Until(got.Expiry) > time.Minute+auth.DefaultClockSkew+2*time.Second {
		t.Fatalf("Verify(dev token) = %+v, %v; want Expiry in a minute plus the skew", got, err)
	}
	got.Expiry = time.Time{}
	if got != u {
		t.Fatalf("Verify(dev token) = %+v, %v", got, err)
	}
}
