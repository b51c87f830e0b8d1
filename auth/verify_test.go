package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

var algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

func testUser() auth.User {
	return auth.User{UUID: uuid.New(), ID: "Jx2p8sQbV0cYt5nLr4aW9eHk3uZm7dFg", Email: "ada@example.com", Name: "Ada"}
}

// mapLookup is a real SubLookup backed by a map (the db package provides the SQL one).
type mapLookup struct {
	users map[string]uuid.UUID
	err   error
	calls atomic.Int64
}

func (m *mapLookup) UserUUIDBySub(_ context.Context, sub string) (uuid.UUID, bool, error) {
	m.calls.Add(1)
	if m.err != nil {
		return uuid.Nil, false, m.err
	}
	id, ok := m.users[sub]
	return id, ok, nil
}

func reasonOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *auth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	if e.Unavailable {
		return "UNAVAILABLE"
	}
	return e.Reason
}

func TestVerifyGoodTokenEveryAlgorithm(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			iss := testkit.NewIssuer(t, alg)
			v := iss.Verifier(t, nil)
			want := testUser()
			got, err := v.Verify(context.Background(), iss.TokenFor(t, want))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// Expiry is the token's exp (an hour) plus the clock skew.
			if d := time.Until(got.Expiry) - time.Hour - auth.DefaultClockSkew; d > 2*time.Second || d < -2*time.Second {
				t.Fatalf("Expiry %v is not exp + skew", got.Expiry)
			}
			got.Expiry = time.Time{}
			if got != want {
				t.Fatalf("user = %+v, want %+v", got, want)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			iss := testkit.NewIssuer(t, alg)
			lookup := &mapLookup{users: map[string]uuid.UUID{}}
			v := iss.Verifier(t, lookup)
			u := testUser()
			lookup.users[u.ID] = u.UUID
			now := time.Now()
			with := func(change func(jwt.MapClaims)) jwt.MapClaims {
				c := iss.Claims(u)
				change(c)
				return c
			}
			good := iss.TokenFor(t, u)
			parts := strings.Split(good, ".")
			otherAlg := "RS256"
			if alg == "RS256" || alg == "PS256" {
				otherAlg = "EdDSA"
			}
			stranger := testkit.NewKey(t, alg)
			sameKIDOtherKey := testkit.NewKey(t, alg)
			sameKIDOtherKey.KID = iss.Key().KID
			attackerJWK := stranger.JWK(t)

			cases := []struct {
				name   string
				token  string
				reason string // "" = accepted
			}{
				{"good", good, ""},
				{"alg none", noneToken(t, iss.Claims(u), iss.Key().KID), auth.ReasonAlgorithmNotAllowed},
				{"HS256 with the public key as secret", hmacToken(t, iss.Claims(u), iss.Key()), auth.ReasonAlgorithmNotAllowed},
				{"algorithm not in the allow-list", testkit.NewKey(t, otherAlg).Sign(t, iss.Claims(u), nil), auth.ReasonAlgorithmNotAllowed},
				{"key not in the JWKS", stranger.Sign(t, iss.Claims(u), nil), auth.ReasonUnknownKey},
				{"other key under a published kid", sameKIDOtherKey.Sign(t, iss.Claims(u), nil), auth.ReasonInvalidSignature},
				{"tampered payload", parts[0] + "." + b64(`{"sub":"x","uuid":"`+uuid.NewString()+`","exp":9999999999,"iss":"`+iss.URL+`","aud":"`+iss.URL+`"}`) + "." + parts[2], auth.ReasonInvalidSignature},
				{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), auth.ReasonInvalidSignature},
				{"expired beyond the leeway", iss.Sign(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), nil), auth.ReasonTokenExpired},
				{"expired within the leeway", iss.Sign(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }), nil), ""},
				{"nbf in the future", iss.Sign(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() }), nil), auth.ReasonTokenNotYetValid},
				{"nbf within the leeway", iss.Sign(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() }), nil), ""},
				{"iat in the future", iss.Sign(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(5 * time.Minute).Unix() }), nil), auth.ReasonTokenNotYetValid},
				{"no iat", iss.Sign(t, with(func(c jwt.MapClaims) { delete(c, "iat") }), nil), ""},
				{"wrong iss", iss.Sign(t, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), nil), auth.ReasonInvalidIssuer},
				{"no iss", iss.Sign(t, with(func(c jwt.MapClaims) { delete(c, "iss") }), nil), auth.ReasonMissingClaim},
				{"wrong aud", iss.Sign(t, with(func(c jwt.MapClaims) { c["aud"] = "https://other.example" }), nil), auth.ReasonInvalidAudience},
				{"aud array with ours", iss.Sign(t, with(func(c jwt.MapClaims) { c["aud"] = []string{"https://other.example", iss.URL} }), nil), ""},
				{"aud array without ours", iss.Sign(t, with(func(c jwt.MapClaims) { c["aud"] = []string{"https://a.example", "https://b.example"} }), nil), auth.ReasonInvalidAudience},
				{"no exp", iss.Sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil), auth.ReasonMissingClaim},
				{"exp not a number", iss.Sign(t, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), nil), auth.ReasonInvalidClaim},
				{"uuid missing, sub resolves", iss.Sign(t, with(func(c jwt.MapClaims) { delete(c, "uuid") }), nil), ""},
				{"uuid missing, unknown sub", iss.Sign(t, with(func(c jwt.MapClaims) { delete(c, "uuid"); c["sub"] = "nobody" }), nil), auth.ReasonUserNotFound},
				{"uuid not a UUID", iss.Sign(t, with(func(c jwt.MapClaims) { c["uuid"] = u.ID }), nil), auth.ReasonInvalidClaim},
				{"uuid a number", iss.Sign(t, with(func(c jwt.MapClaims) { c["uuid"] = 42 }), nil), auth.ReasonInvalidClaim},
				{"9 KiB token", iss.Sign(t, with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 9<<10) }), nil), auth.ReasonTokenTooLarge},
				{"own jwk header, attacker kid", stranger.Sign(t, iss.Claims(u), map[string]any{"jwk": attackerJWK}), auth.ReasonUnknownKey},
				{"own jwk header, published kid", stranger.Sign(t, iss.Claims(u), map[string]any{"jwk": attackerJWK, "kid": iss.Key().KID}), auth.ReasonInvalidSignature},
				{"own jku header", stranger.Sign(t, iss.Claims(u), map[string]any{"jku": "https://evil.example/jwks", "kid": iss.Key().KID}), auth.ReasonInvalidSignature},
				{"own x5u header", stranger.Sign(t, iss.Claims(u), map[string]any{"x5u": "https://evil.example/cert", "kid": iss.Key().KID}), auth.ReasonInvalidSignature},
				{"no kid (older Better Auth)", iss.Sign(t, iss.Claims(u), map[string]any{"kid": nil}), ""},
				{"empty kid", iss.Sign(t, iss.Claims(u), map[string]any{"kid": ""}), ""},
				{"no kid, key not in the JWKS", stranger.Sign(t, iss.Claims(u), map[string]any{"kid": nil}), auth.ReasonInvalidSignature},
				{"kid not a string", iss.Sign(t, iss.Claims(u), map[string]any{"kid": 7}), auth.ReasonMalformedToken},
				{"typ header present", iss.Sign(t, iss.Claims(u), map[string]any{"typ": "JWT"}), ""},
				{"garbage", "not a jwt", auth.ReasonMalformedToken},
				{"two parts", "abc.def", auth.ReasonMalformedToken},
				{"three parts, not base64", "a$b.c$d.e$f", auth.ReasonMalformedToken},
				{"empty", "", auth.ReasonMalformedToken},
			}
			if alg == "EdDSA" {
				cases = append(cases, struct {
					name   string
					token  string
					reason string
				}{"alg named Ed25519 (RFC 9864)", iss.Sign(t, iss.Claims(u), map[string]any{"alg": "Ed25519"}), ""})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got, err := v.Verify(context.Background(), tc.token)
					if r := reasonOf(t, err); r != tc.reason {
						t.Fatalf("reason = %q (%v), want %q", r, err, tc.reason)
					}
					if err == nil && got.UUID != u.UUID {
						t.Fatalf("UUID = %s, want %s", got.UUID, u.UUID)
					}
					if err != nil && strings.Contains(err.Error(), tc.token) && tc.token != "" {
						t.Fatalf("the error echoes the token: %v", err)
					}
				})
			}
		})
	}
}

func noneToken(t *testing.T, claims jwt.MapClaims, kid string) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacToken is the classic key-confusion attack: HS256 keyed with the public key's bytes.
func hmacToken(t *testing.T, claims jwt.MapClaims, k *testkit.Key) string {
	var secret []byte
	if pub, ok := k.Private.Public().(ed25519.PublicKey); ok {
		secret = pub
	} else {
		secret = []byte(k.JWK(t)["kid"].(string))
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = k.KID
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// flip changes one signature byte.
func flip(sig string) string {
	raw, _ := base64.RawURLEncoding.DecodeString(sig)
	raw[len(raw)/2] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyUUIDClaimWithoutLookup(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	c := iss.Claims(testUser())
	delete(c, "uuid")
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), iss.Sign(t, c, nil)); return err }()); r != auth.ReasonMissingClaim {
		t.Fatalf("reason = %q, want missing_claim", r)
	}
}

func TestVerifySubLookupIsCachedAndErrorsAreUnavailable(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	u := testUser()
	lookup := &mapLookup{users: map[string]uuid.UUID{u.ID: u.UUID}}
	v := iss.Verifier(t, lookup)
	c := iss.Claims(u)
	delete(c, "uuid")
	tok := iss.Sign(t, c, nil)
	for range 5 {
		got, err := v.Verify(context.Background(), tok)
		if err != nil || got.UUID != u.UUID {
			t.Fatalf("Verify = %+v, %v", got, err)
		}
	}
	if n := lookup.calls.Load(); n != 1 {
		t.Fatalf("lookups = %d, want 1 (cached)", n)
	}

	failing := &mapLookup{err: errors.New("connection refused")}
	v2 := iss.Verifier(t, failing)
	_, err := v2.Verify(context.Background(), tok)
	var e *auth.Error
	if !errors.As(err, &e) || !e.Unavailable || strings.Contains(e.Message, "connection refused") {
		t.Fatalf("err = %#v, want an Unavailable error without the internal cause", err)
	}
}

func TestVerifySeveralAudiencesAndEd25519Config(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	cfg := iss.Config()
	cfg.Audiences = []string{"https://api.example", iss.URL}
	cfg.Algorithms = []string{"Ed25519"}
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
	testkit.WaitKeysLoaded(t, v)
	u := testUser()
	c := iss.Claims(u)
	c["aud"] = "https://api.example"
	if _, err := v.Verify(context.Background(), iss.Sign(t, c, nil)); err != nil {
		t.Fatalf("second audience: %v", err)
	}
	if got := v.Config().Algorithms; len(got) != 1 || got[0] != "EdDSA" {
		t.Fatalf("Algorithms = %v, want [EdDSA]", got)
	}
}

func TestVerifyRealWorldJWKSShapes(t *testing.T) {
	u := testUser()
	t.Run("keys without alg are matched by type and curve", func(t *testing.T) {
		for _, alg := range algorithms {
			iss := testkit.NewIssuer(t, alg)
			jwk := iss.Key().JWK(t)
			delete(jwk, "alg")
			iss.ServeRaw(testkit.JWKSDocument(t, jwk))
			v := iss.Verifier(t, nil)
			if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
		}
	})
	t.Run("use sig is fine, use enc is refused", func(t *testing.T) {
		iss := testkit.NewIssuer(t, "ES256")
		sig := iss.Key().JWK(t)
		sig["use"] = "sig"
		iss.ServeRaw(testkit.JWKSDocument(t, sig))
		v := iss.Verifier(t, nil)
		if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
			t.Fatalf("use=sig: %v", err)
		}

		iss2 := testkit.NewIssuer(t, "ES256")
		enc := iss2.Key().JWK(t)
		enc["use"] = "enc"
		other := testkit.NewKey(t, "ES256").JWK(t) // so that the set is not empty
		iss2.ServeRaw(testkit.JWKSDocument(t, enc, other))
		v2 := iss2.Verifier(t, nil)
		if r := reasonOf(t, func() error { _, err := v2.Verify(context.Background(), iss2.TokenFor(t, u)); return err }()); r != auth.ReasonUnknownKey {
			t.Fatalf("use=enc: reason %q, want unknown_key", r)
		}
	})
	t.Run("several live keys and a broken one", func(t *testing.T) {
		iss := testkit.NewIssuer(t, "EdDSA")
		old := iss.Key()
		iss.AddKey(t)
		broken := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "broken", "x": "!!"}
		iss.ServeRaw(testkit.JWKSDocument(t, broken, old.JWK(t), iss.Key().JWK(t)))
		v := iss.Verifier(t, nil)
		for _, k := range []*testkit.Key{old, iss.Key()} {
			if _, err := v.Verify(context.Background(), k.Sign(t, iss.Claims(u), nil)); err != nil {
				t.Fatalf("key %s: %v", k.KID, err)
			}
		}
	})
	t.Run("key type must match the algorithm", func(t *testing.T) {
		iss := testkit.NewIssuer(t, "ES256")
		p521 := testkit.NewKey(t, "ES512")
		iss.Publish(iss.Key(), p521)
		cfg := iss.Config()
		cfg.Algorithms = []string{"ES256", "ES512"}
		v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
		testkit.WaitKeysLoaded(t, v)
		// An ES256 header naming the P-521 key.
		tok := iss.Sign(t, iss.Claims(u), map[string]any{"kid": p521.KID})
		if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), tok); return err }()); r != auth.ReasonInvalidSignature {
			t.Fatalf("reason %q, want invalid_signature", r)
		}
	})
}

func TestRotation(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	u := testUser()
	oldToken := iss.TokenFor(t, u)

	// Grace period: the new key is published beside the old one.
	iss.AddKey(t)
	if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
		t.Fatalf("token of the new kid: %v", err)
	}
	if _, err := v.Verify(context.Background(), oldToken); err != nil {
		t.Fatalf("token of the old kid during the grace period: %v", err)
	}

	// Revocation: the next JWKS lists only a newer key; after the refresh the old ones are gone.
	iss.Rotate(t)
	if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
		t.Fatalf("token of the newest kid: %v", err)
	}
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), oldToken); return err }()); r != auth.ReasonUnknownKey {
		t.Fatalf("revoked key: reason %q, want unknown_key", r)
	}
}

// refreshingVerifier verifies iss's tokens, refreshing the JWKS every 20ms; its keys are loaded.
func refreshingVerifier(t *testing.T, iss *testkit.Issuer) *auth.Verifier {
	t.Helper()
	cfg := iss.Config()
	cfg.JWKSRefresh = 20 * time.Millisecond
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
	testkit.WaitKeysLoaded(t, v)
	return v
}

func TestBackgroundRefreshReplacesKeys(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := refreshingVerifier(t, iss)
	u := testUser()
	oldToken := iss.TokenFor(t, u)
	if _, err := v.Verify(context.Background(), oldToken); err != nil {
		t.Fatal(err)
	}
	iss.Publish() // Better Auth revoked every key... then publishes a new one
	newKey := testkit.NewKey(t, "EdDSA")
	iss.Publish(newKey)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), oldToken)
		if reasonOf(t, err) == auth.ReasonUnknownKey {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked key is still trusted after the background refreshes: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnknownKIDBurstIsRateLimited(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	before := iss.Fetches()
	u := testUser()
	signer := testkit.NewKey(t, "EdDSA")
	var wg sync.WaitGroup
	var refused atomic.Int64
	tokens := make(chan string)
	for range 32 {
		wg.Go(func() {
			for tok := range tokens {
				if _, err := v.Verify(context.Background(), tok); reasonOf(t, err) == auth.ReasonUnknownKey {
					refused.Add(1)
				}
			}
		})
	}
	for range 1000 {
		tokens <- signer.Sign(t, iss.Claims(u), map[string]any{"kid": uuid.NewString()})
	}
	close(tokens)
	wg.Wait()
	fetches := iss.Fetches() - before
	t.Logf("1000 random kids: %d JWKS fetches", fetches)
	if refused.Load() != 1000 {
		t.Fatalf("refused %d of 1000 with unknown_key", refused.Load())
	}
	if fetches > 5 {
		t.Fatalf("1000 random kids caused %d JWKS fetches, want at most 5", fetches)
	}
	// The real key still works, from the cache.
	if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
		t.Fatal(err)
	}
}

func TestOutageAfterLoadKeepsServingCachedKeys(t *testing.T) {
	iss := testkit.NewIssuer(t, "RS256")
	cfg := iss.Config()
	cfg.JWKSRefresh = 10 * time.Millisecond // refreshes keep failing during the outage
	var failures atomic.Int64
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{JWKSFetch: func(err error) {
		if err != nil {
			failures.Add(1)
		}
	}})
	testkit.WaitKeysLoaded(t, v)
	iss.SetDown(true)
	u := testUser()
	deadline := time.Now().Add(5 * time.Second)
	for failures.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed refresh observed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), iss.TokenFor(t, u)); err != nil {
		t.Fatalf("cached key during the outage: %v", err)
	}
	if !v.KeysLoaded() {
		t.Fatal("KeysLoaded false during the outage")
	}
	// An unknown kid during the outage is a 401, not a 503.
	tok := testkit.NewKey(t, "RS256").Sign(t, iss.Claims(u), nil)
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), tok); return err }()); r != auth.ReasonUnknownKey {
		t.Fatalf("reason %q, want unknown_key", r)
	}
}

func TestStartWithJWKSDown(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	iss.SetDown(true)
	v := testkit.StartVerifier(t, iss.Config(), nil, auth.Hooks{}) // must not block
	if v.KeysLoaded() {
		t.Fatal("KeysLoaded true with the JWKS down")
	}
	u := testUser()
	tok := iss.TokenFor(t, u)
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), tok); return err }()); r != "UNAVAILABLE" {
		t.Fatalf("reason %q, want an Unavailable error", r)
	}
	iss.SetDown(false)
	testkit.WaitKeysLoaded(t, v)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestHangingJWKSDoesNotHoldRequests(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	iss := testkit.NewIssuer(t, "EdDSA")
	cfg := iss.Config()
	cfg.JWKSURL = srv.URL + "/api/auth/jwks"
	cfg.JWKSTimeout = 100 * time.Millisecond
	v := testkit.StartVerifier(t, cfg, nil, auth.Hooks{})
	start := time.Now()
	_, err := v.Verify(context.Background(), iss.TokenFor(t, testUser()))
	if r := reasonOf(t, err); r != "UNAVAILABLE" {
		t.Fatalf("reason %q, want an Unavailable error", r)
	}
	// Not a speed goal: a bound far above the 100ms timeout, to catch a request that hangs.
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the request waited %s for a hanging JWKS", waited)
	}
}

func TestTokenSizeLimitIsEightKiB(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	v := iss.Verifier(t, nil)
	c := iss.Claims(testUser())
	c["pad"] = ""
	base := len(iss.Sign(t, c, nil))
	// base64url: 3 bytes of JSON become 4 characters; aim just under and just over the limit.
	c["pad"] = strings.Repeat("x", (auth.MaxTokenBytes-base)*3/4-2)
	under := iss.Sign(t, c, nil)
	if len(under) > auth.MaxTokenBytes || len(under) < auth.MaxTokenBytes-8 {
		t.Fatalf("test setup: token of %d bytes", len(under))
	}
	if _, err := v.Verify(context.Background(), under); err != nil {
		t.Fatalf("%d-byte token: %v", len(under), err)
	}
	c["pad"] = c["pad"].(string) + "xxxxxxxxxxxx"
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), iss.Sign(t, c, nil)); return err }()); r != auth.ReasonTokenTooLarge {
		t.Fatalf("reason %q, want token_too_large", r)
	}
}
