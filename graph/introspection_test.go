package graph_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
)

// serve replaces e's handler with graph.NewServer(opts) behind the auth middleware, logging into
// e.logs.
func (e *env) serve(opts graph.Options) {
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	if opts.CountOperation == nil {
		opts.CountOperation = e.countOperation
	}
	e.handler = auth.Middleware(e.issuer.Verifier(e.t, e.store))(graph.NewServer(e.store, opts))
}

// post sends a raw request body with the given Accept header ("" sends none) and returns the
// status and the first error's code.
func (e *env) post(body, accept string) (int, string, string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	var r response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("not JSON (%d): %s", rec.Code, rec.Body)
	}
	return rec.Code, r.code(), rec.Body.String()
}

func (e *env) noErrorLogs() {
	e.t.Helper()
	if strings.Contains(e.logs.String(), "level=ERROR") {
		e.t.Errorf("ERROR logged for a client's request:\n%s", e.logs)
	}
}

func standardQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/introspection/*.graphql")
	if err != nil || len(files) < 5 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// The introspection queries of graphql-js (with and without its options), GraphiQL 5 and GraphQL
// Code Generator all succeed where introspection is on, with or without a token.
func TestStandardIntrospectionQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{Introspection: true})
	for name, q := range standardQueries(t) {
		for _, u := range []*auth.User{nil, &e.a} {
			r := e.do(u, q, nil)
			if r.Status != http.StatusOK || len(r.Errors) != 0 {
				t.Fatalf("%s (token %v): %d %.500s", name, u != nil, r.Status, r.Raw)
			}
			var s struct {
				QueryType struct{ Name string }
				Types     []struct {
					Name   string
					Fields []struct{ Name string }
				}
			}
			if err := json.Unmarshal(r.Data["__schema"], &s); err != nil {
				t.Fatal(err)
			}
			fields := map[string]bool{}
			for _, ty := range s.Types {
				for _, f := range ty.Fields {
					fields[ty.Name+"."+f.Name] = true
				}
			}
			if s.QueryType.Name != "Query" || !fields["Query.tasks"] || !fields["Task.tags"] {
				t.Fatalf("%s: queryType %q, Query.tasks %v, Task.tags %v", name, s.QueryType.Name, fields["Query.tasks"], fields["Task.tags"])
			}
		}
	}
	e.noErrorLogs()
}

// Where introspection is off (serve's default) it is refused before execution with its own code,
// answered as a validation failure, and logged as nothing worse than a client's mistake.
func TestIntrospectionDisabledIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{})
	queries := standardQueries(t)
	queries["__type"] = `{ __type(name: "Task") { name } }`
	queries["with data"] = `{ me { id } __schema { queryType { name } } }`
	for name, q := range queries {
		r := e.do(&e.a, q, nil)
		if r.Status != http.StatusOK || r.code() != "INTROSPECTION_DISABLED" || len(r.Data) != 0 {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	// __typename is not introspection.
	var me struct {
		Typename string `json:"__typename"`
	}
	e.ok(&e.a, `{ __typename me { __typename } }`, nil, "me", &me)
	if me.Typename != "User" {
		t.Errorf("me.__typename = %q", me.Typename)
	}
	e.noErrorLogs()
}

// Each refusal's HTTP status: pinned because clients and the README depend on them. A request
// error (no operation could be made) is 200 under application/json and 400 under
// application/graphql-response+json, as the GraphQL-over-HTTP spec asks (requesterror.go).
func TestRefusalStatusCodes(t *testing.T) {
	t.Parallel()
	deepIntrospection := func(n int) string {
		return `{ __type(name: "Task") { ` + strings.Repeat("ofType { ", n) + "name" + strings.Repeat(" }", n) + " } }"
	}
	// Three lists of all tags: 3 × 500 objects, over the limit of 1,000 set below.
	wide := "{ a: tags { id } b: tags { id } c: tags { id } }"
	// A four-deep document passes validation; the server under test allows 3.
	deep := `{ tasks { edges { node { id } } } }`
	cases := []struct {
		name, query, code     string
		json, graphqlResponse int // status under Accept: application/json (or none), and graphql-response+json
		introspection         bool
	}{
		{"parse error", `{ tasks {`, "GRAPHQL_PARSE_FAILED", 200, 400, false},
		{"validation error", `{ nope }`, "GRAPHQL_VALIDATION_FAILED", 200, 400, false},
		{"introspection disabled", `{ __schema { queryType { name } } }`, "INTROSPECTION_DISABLED", 200, 400, false},
		{"complexity", wide, "COMPLEXITY_LIMIT_EXCEEDED", 200, 200, false},
		{"depth", deep, "DEPTH_LIMIT_EXCEEDED", 200, 200, false},
		{"introspection 30 deep", deepIntrospection(28), "DEPTH_LIMIT_EXCEEDED", 200, 200, true},
		{"introspection 200 deep", deepIntrospection(198), "DEPTH_LIMIT_EXCEEDED", 200, 200, true},
		// Refused before validation (graph/limits.go), like a document that does not parse.
		{"introspection too wide", "{ __schema {" + strings.Repeat(" types { name }", 200) + " } }", "SELECTION_LIMIT_EXCEEDED", 200, 400, true},
		{"document too large", "{" + strings.Repeat(" __typename", 1000) + " }", "DOCUMENT_TOO_LARGE", 200, 400, false},
		{"too many aliases", "{" + strings.Repeat(" a: __typename", 16) + " }", "ALIAS_LIMIT_EXCEEDED", 200, 400, false},
		{"too many directives", "{ __typename" + strings.Repeat(" @skip(if: false)", 51) + " }", "DIRECTIVE_LIMIT_EXCEEDED", 200, 400, false},
	}
	e := newEnv(t)
	off := graph.NewServer(e.store, graph.Options{MaxDepth: 3, ComplexityLimit: 1000, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	on := graph.NewServer(e.store, graph.Options{MaxDepth: 3, ComplexityLimit: 1000, Introspection: true, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	for _, tc := range cases {
		e.handler = off
		if tc.introspection {
			e.handler = on
		}
		body, _ := json.Marshal(map[string]string{"query": tc.query})
		for accept, want := range map[string]int{"": tc.json, "application/json": tc.json, "application/graphql-response+json": tc.graphqlResponse} {
			status, code, raw := e.post(string(body), accept)
			if status != want || code != tc.code {
				t.Errorf("%s (Accept %q): %d %s, want %d %s: %.300s", tc.name, accept, status, code, want, tc.code, raw)
			}
		}
	}
	// The same deep document passes the default limit (10).
	e.serve(graph.Options{})
	e.ok(&e.a, deep, nil, "tasks", nil)
	e.noErrorLogs()
}

// GET /graphql/schema.graphql serves the text of schema.graphqls, which gqlgen compiled into the
// server: if the two differ, `go generate ./graph` has not been run since the schema changed.
func TestSDL(t *testing.T) {
	t.Parallel()
	file, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	if graph.SDL() != string(file) {
		t.Fatal("graph.SDL() differs from schema.graphqls: run go generate ./graph")
	}
	if !strings.Contains(graph.SDL(), "me: User! @auth") {
		t.Fatal("SDL without @auth")
	}
	h := graph.SDLHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql/schema.graphql", nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), file) ||
		rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" || rec.Header().Get("ETag") == "" {
		t.Fatalf("GET: %d %v", rec.Code, rec.Header())
	}
	req := httptest.NewRequest(http.MethodGet, "/graphql/schema.graphql", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, req)
	if rec2.Code != http.StatusNotModified || rec2.Body.Len() != 0 {
		t.Fatalf("revalidation: %d", rec2.Code)
	}
}

// TestRequestErrorsFollowTheSpec: what graphql-http's audit checks, pinned here too. A request
// without a document is 400 whatever the media type; a request error under
// application/graphql-response+json has no "data" entry; a mutation over GET is 405 with Allow.
func TestRequestErrorsFollowTheSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		if status, _, raw := e.post(`{"qeury": "{ __typename }"}`, accept); status != http.StatusBadRequest {
			t.Errorf("no document (Accept %s): %d %s, want 400", accept, status, raw)
		}
		status, _, raw := e.post(`{"query": "{"}`, accept)
		if strings.Contains(raw, `"data"`) {
			t.Errorf("parse error (Accept %s): %d %s has a data entry", accept, status, raw)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(`mutation { deleteTag(id: "x") }`), nil)
	req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(t, e.a))
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost || !strings.Contains(rec.Body.String(), `"code":"BAD_REQUEST"`) {
		t.Errorf("a mutation over GET: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}
