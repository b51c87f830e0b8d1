package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// clock is a settable time for the verifier (jwt's checks and the token cache).
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// A token that was refused is refused again (nothing is cached for it), and a cached token's
// neighbours (one character changed) are verified, not looked up.
func TestTokenCacheNeverServesARefusedToken(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	ctx := context.Background()
	u := testUser()
	good := iss.TokenFor(t, u)
	wrongAud := iss.Claims(u)
	wrongAud["aud"] = "https://elsewhere.example"
	refused := map[string]string{
		"altered signature": flip(good),
		"wrong audience":    iss.Sign(t, wrongAud, nil),
		"another issuer":    testkit.NewIssuer(t, "EdDSA").TokenFor(t, u),
	}
	if got, err := v.Verify(ctx, good); err != nil || got.UUID != u.UUID {
		t.Fatalf("good token: %+v, %v", got, err)
	}
	if n := auth.CachedTokens(v); n != 1 {
		t.Fatalf("%d tokens cached after one good one", n)
	}
	for name, tok := range refused {
		for i := range 3 {
			if _, err := v.Verify(ctx, tok); err == nil {
				t.Fatalf("%s: accepted on try %d", name, i)
			}
		}
	}
	if n := auth.CachedTokens(v); n != 1 {
		t.Fatalf("%d tokens cached: a refusal was cached", n)
	}
	got, err := v.Verify(ctx, good)
	if err != nil || got.UUID != u.UUID || got.ID != u.ID || got.Email != u.Email || got.Name != u.Name || got.Expiry.IsZero() {
		t.Fatalf("the cached token: %+v, %v; want %+v", got, err, u)
	}
}

// A cached token is refused from its exp (plus the clock skew) on, and is not accepted before
// its nbf (minus the skew), exactly when the verifier itself refuses it.
func TestTokenCacheHonoursTheTokensLifetime(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	c := &clock{t: time.Now()}
	auth.SetClock(v, c.now)
	ctx := context.Background()
	skew := v.Config().ClockSkew
	u := testUser()
	claims := iss.Claims(u)
	start := time.Unix(c.t.Unix(), 0)
	claims["iat"] = start.Unix()
	claims["nbf"] = start.Add(time.Minute).Unix()
	claims["exp"] = start.Add(time.Hour).Unix()
	tok := iss.Sign(t, claims, nil)

	at := func(when time.Time, wantReason string) {
		t.Helper()
		c.t = when
		_, err := v.Verify(ctx, tok)
		if wantReason == "" && err != nil {
			t.Fatalf("at %v: %v", when.Sub(start), err)
		}
		if wantReason != "" && reasonOf(t, err) != wantReason {
			t.Fatalf("at %v: %v, want %s", when.Sub(start), err, wantReason)
		}
	}
	at(start, auth.ReasonTokenNotYetValid) // nbf in a minute, beyond the 30 s skew
	at(start.Add(time.Minute-skew), "")    // valid from nbf − skew: verified and cached
	if auth.CachedTokens(v) != 1 {
		t.Fatal("the valid token was not cached")
	}
	at(start.Add(time.Minute-skew-time.Second), auth.ReasonTokenNotYetValid) // the clock went back
	at(start.Add(30*time.Minute), "")
	at(start.Add(time.Hour+skew-time.Millisecond), "")
	at(start.Add(time.Hour+skew), auth.ReasonTokenExpired) // jwt: valid while now < exp + skew
	at(start.Add(30*time.Minute), "")                      // verified again, not from a stale entry
	at(start.Add(2*time.Hour), auth.ReasonTokenExpired)
}

// A key that leaves the JWKS takes its cached tokens with it, at the refresh that removes it; so
// does a key published again under the same kid with other key material.
func TestTokenCacheForgetsTokensOfRemovedKeys(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := refreshingVerifier(t, iss)
	ctx := context.Background()
	u := testUser()
	old := iss.Key()
	tok := iss.TokenFor(t, u)
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if auth.CachedTokens(v) != 1 {
		t.Fatal("not cached")
	}
	// Same kid, another key: the cached token must not outlive the key that signed it.
	impostor := testkit.NewKey(t, "EdDSA")
	impostor.KID = old.KID
	iss.Publish(impostor)
	waitRefused(t, v, tok, auth.ReasonInvalidSignature)
	// The original key back, then removed altogether.
	iss.Publish(old)
	waitRefused(t, v, tok, "")
	iss.Publish(testkit.NewKey(t, "EdDSA"))
	waitRefused(t, v, tok, auth.ReasonUnknownKey)
}

// waitRefused verifies tok until the background refresh makes the answer want ("" = accepted).
func waitRefused(t *testing.T, v *auth.Verifier, tok, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), tok)
		if (want == "" && err == nil) || (want != "" && err != nil && reasonOf(t, err) == want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the JWKS changed: %v, want %q", err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The cache holds at most its size, however many tokens arrive.
func TestTokenCacheIsBounded(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	auth.SetTokenCacheSize(v, 50)
	ctx := context.Background()
	for i := range 400 {
		claims := iss.Claims(testUser())
		claims["jti"] = fmt.Sprint(i)
		if _, err := v.Verify(ctx, iss.Sign(t, claims, nil)); err != nil {
			t.Fatal(err)
		}
		if n := auth.CachedTokens(v); n > 50 {
			t.Fatalf("%d tokens cached, bound 50", n)
		}
	}
	// Tokens without a kid are tried against every key: verified every time, never cached.
	auth.SetTokenCacheSize(v, 50)
	kidless := iss.Key().Sign(t, iss.Claims(testUser()), map[string]any{"kid": nil})
	if _, err := v.Verify(ctx, kidless); err != nil {
		t.Fatal(err)
	}
	if n := auth.CachedTokens(v); n != 0 {
		t.Fatalf("a token without kid was cached")
	}
}
