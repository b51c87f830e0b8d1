package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// Apollo Client's clientAwareness headers pass the preflight, and credentials are allowed to the
// listed origins (only: a foreign origin still gets nothing).
func TestCORSAllowsApolloClientHeadersAndCredentials(t *testing.T) {
	a, _ := newTestApp(t, testkit.NewIssuer(t, "EdDSA"))
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "apollographql-client-name,apollographql-client-version,authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("http://localhost:3000")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
		t.Fatalf("Allow-Origin = %q", got)
	}
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"apollographql-client-name", "apollographql-client-version", "authorization"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Allow-Headers = %q, want %s", allowed, h)
		}
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Allow-Credentials = %q, want true", got)
	}
	resp = preflight("https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("a foreign origin was allowed: %v", resp.Header)
	}
}

// dev takes CORS_ORIGINS when it is set (a Vite app on :5173), Next.js's :3000 otherwise.
func TestDevHonoursCORSOrigins(t *testing.T) {
	c, err := environment(env(map[string]string{"CORS_ORIGINS": "http://localhost:5173, http://127.0.0.1:5173/"})).dev()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://localhost:5173", "http://127.0.0.1:5173"}; !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("CORS_ORIGINS set: %v, want %v", c.CORSOrigins, want)
	}
	c, err = environment(env(nil)).dev()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.CORSOrigins, devOrigins) {
		t.Errorf("CORS_ORIGINS unset: %v, want %v", c.CORSOrigins, devOrigins)
	}
}
