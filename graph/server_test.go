package graph_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
)

func TestIntrospectionOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const q = `{ __schema { queryType { name } } }`
	if r := e.do(&e.a, q, nil); len(r.Errors) == 0 {
		t.Fatalf("introspection answered by default: %s", r.Raw)
	}
	e.handler = auth.Middleware(e.issuer.Verifier(t, e.store))(graph.NewServer(e.store, graph.Options{Introspection: true}))
	var s struct{ QueryType struct{ Name string } }
	e.ok(&e.a, q, nil, "__schema", &s)
	if s.QueryType.Name != "Query" {
		t.Fatalf("__schema = %+v", s)
	}
}

// Options.ComplexityLimit is the limit served: three lists of all tags (3 × 500) are refused under
// 1,000, before any statement; one passes.
func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.handler = auth.Middleware(e.issuer.Verifier(t, e.store))(graph.NewServer(e.store, graph.Options{ComplexityLimit: 1000, Logger: slog.Default()}))
	e.stmts.Store(0)
	r := e.do(&e.a, `{ a: tags { id } b: tags { id } c: tags { id } }`, nil)
	if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" || r.Status >= 500 || e.stmts.Load() != 0 {
		t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED before any statement, got %d after %d statements: %s", r.Status, e.stmts.Load(), r.Raw)
	}
	if r := e.do(&e.a, `{ tags { id } }`, nil); len(r.Errors) != 0 {
		t.Fatalf("small query refused: %s", r.Raw)
	}
}

func TestGETTransport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ me { id } }`), nil)
	req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(t, e.a))
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"id":"sub-a"`) {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
}
