package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// post sends body as e.a with the given Accept header and returns the recorder.
func (e *env) postAccept(body, accept string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(e.t, e.a))
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var r response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || len(r.Errors) != 1 {
		t.Fatalf("want one error, got %d %s", rec.Code, rec.Body)
	}
	return r.code(), r.Errors[0].Message
}

// What Apollo Client sends for a subscription without a WebSocket link, and for a query with
// @defer, is refused at once (no statement runs, nothing waits for an event), with the way out.
func TestIncrementalDeliveryIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, accept, query, want string
	}{
		{"Apollo's HTTP subscription", `multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json`, `subscription { taskEvents { id } }`, "WebSocket"},
		{"Apollo's @defer", `multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9`, `{ me { id ... @defer { email } } }`, "@defer is not supported"},
	}
	for _, tc := range cases {
		before := e.stmts.Load()
		body, _ := json.Marshal(map[string]string{"query": tc.query})
		rec := e.postAccept(string(body), tc.accept)
		if rec.Code != http.StatusNotAcceptable {
			t.Fatalf("%s: status %d %s, want 406", tc.name, rec.Code, rec.Body)
		}
		if code, msg := errorOf(t, rec); code != "BAD_REQUEST" || !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: %s %q", tc.name, code, msg)
		}
		if n := e.stmts.Load() - before; n != 0 {
			t.Fatalf("%s: %d statements ran", tc.name, n)
		}
	}
	// urql lists a bare multipart/mixed for every request: not a request for incremental delivery.
	rec := e.postAccept(`{"query":"{ me { id } }"}`, "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"id":"sub-a"`) {
		t.Fatalf("urql's Accept: %d %s", rec.Code, rec.Body)
	}
}

// @defer anywhere in a document (gqlgen's schema declares it) is refused rather than ignored.
func TestDeferIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, q := range []string{
		`{ me { id ... @defer { email } } }`,
		`{ me { ...F @defer } } fragment F on User { email }`,
		`{ me { ...F } } fragment F on User { id ... @defer(label: "x") { email } }`,
		`{ tasks { edges { node { id ...on Task @defer { title } } } } }`,
	} {
		r := e.do(&e.a, q, nil)
		if r.code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "@defer") || r.Data != nil {
			t.Fatalf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
	e.ok(&e.a, `{ me { ...F } } fragment F on User { id ... @include(if: true) { email } }`, nil, "me", nil)
}

// A batch (Apollo's BatchHttpLink: a JSON array) is refused with a message that says so.
func TestBatchIsRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.postAccept(" \n[{\"query\":\"{ me { id } }\"},{\"query\":\"{ me { email } }\"}]", "")
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	if code, msg := errorOf(t, rec); code != "BAD_REQUEST" || !strings.Contains(msg, "BatchHttpLink") {
		t.Fatalf("%s %q", code, msg)
	}
}

// A persisted query's GET answer (Apollo's useGETForHashedQueries) says that no shared cache may
// keep it: the data is the caller's own.
func TestPersistedQueryGETIsNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := `{ me { id } }`
	sum := sha256.Sum256([]byte(q))
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	get := func(withQuery bool) *httptest.ResponseRecorder {
		v := url.Values{"extensions": {ext}}
		if withQuery {
			v.Set("query", q)
		}
		req := httptest.NewRequest(http.MethodGet, "/graphql?"+v.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(t, e.a))
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		return rec
	}
	for i, rec := range []*httptest.ResponseRecorder{get(false), get(true), get(false)} {
		if got := rec.Header().Get("Cache-Control"); got != "private, no-store" {
			t.Fatalf("request %d: Cache-Control %q (%d %s)", i, got, rec.Code, rec.Body)
		}
		if rec.Header().Get("Vary") != "Authorization" {
			t.Fatalf("request %d: Vary %q", i, rec.Header().Get("Vary"))
		}
	}
	if rec := get(false); !strings.Contains(rec.Body.String(), `"id":"sub-a"`) {
		t.Fatalf("the hash alone: %d %s", rec.Code, rec.Body)
	}
}
