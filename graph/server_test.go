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

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.handler = auth.Middleware(e.issuer.Verifier(t, e.store))(graph.NewServer(e.store, graph.Options{ComplexityLimit: 20, Logger: slog.Default()}))
	var b strings.Builder
	b.WriteString("{")
	for i := range 30 {
		b.WriteString(" t" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": tags { id }")
	}
	b.WriteString(" }")
	r := e.do(&e.a, b.String(), nil)
	if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" || r.Status >= 500 {
		t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %d %s", r.Status, r.Raw)
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
