package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
