package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func serveRequest(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func benchmarkMiddleware(b *testing.B, alg string) {
	iss := testkit.NewIssuer(b, alg)
	h := auth.Middleware(iss.Verifier(b, nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.UserFrom(r.Context()); !ok {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	req := httptest.NewRequest(http.MethodPost, "/query", nil)
	req.Header.Set("Authorization", "Bearer "+iss.TokenFor(b, testUser()))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkMiddlewareEdDSA(b *testing.B) { benchmarkMiddleware(b, "EdDSA") }
func BenchmarkMiddlewareRS256(b *testing.B) { benchmarkMiddleware(b, "RS256") }

// benchmarkVerify measures Verifier.Verify alone (signature, claims, key lookup), cycling through
// 200 distinct tokens as 200 signed-in users would send them: without the token cache, and with
// it (cached: each token verified once, then looked up).
func benchmarkVerify(b *testing.B, alg string) { benchmarkVerifyCache(b, alg, 0) }

func BenchmarkVerifyEdDSACached(b *testing.B) { benchmarkVerifyCache(b, "EdDSA", 10_000) }

func benchmarkVerifyCache(b *testing.B, alg string, cacheSize int) {
	iss := testkit.NewIssuer(b, alg)
	v := iss.Verifier(b, nil)
	auth.SetTokenCacheSize(v, cacheSize)
	tokens := make([]string, 200)
	for i := range tokens {
		u := testUser()
		u.UUID = uuid.New()
		tokens[i] = iss.TokenFor(b, u)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) { benchmarkVerify(b, "EdDSA") }
func BenchmarkVerifyES256(b *testing.B) { benchmarkVerify(b, "ES256") }
func BenchmarkVerifyRS256(b *testing.B) { benchmarkVerify(b, "RS256") }

// BenchmarkVerifyEdDSAParallel verifies from every core at once: the key lookup must not
// serialise requests.
func BenchmarkVerifyEdDSAParallel(b *testing.B) {
	iss := testkit.NewIssuer(b, "EdDSA")
	v := iss.Verifier(b, nil)
	tok := iss.TokenFor(b, testUser())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
