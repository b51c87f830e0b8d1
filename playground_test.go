package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// In serve, GRAPHQL_PLAYGROUND=true serves the IDE with no token, and GRAPHQL_INTROSPECTION=true
// publishes the SDL; each only when set.
func TestServeOptInIDEAndSchema(t *testing.T) {
	get := func(base, path string) (int, http.Header, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	a, _ := newTestApp(t, testkit.NewIssuer(t, "EdDSA"))
	for _, tc := range []struct{ playground, introspection bool }{{true, false}, {false, true}, {true, true}} {
		a.cfg.Playground, a.cfg.Introspection = tc.playground, tc.introspection
		srv := httptest.NewServer(a.handler())
		status, h, _ := get(srv.URL, "/")
		if (status == http.StatusOK) != tc.playground || (tc.playground && !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'")) {
			t.Errorf("%+v: GET / %d, CSP %q", tc, status, h.Get("Content-Security-Policy"))
		}
		status, _, body := get(srv.URL, "/ide/config.json")
		if (status == http.StatusOK) != tc.playground || strings.Contains(body, "Authorization") {
			t.Errorf("%+v: config.json %d %s", tc, status, body)
		}
		status, _, body = get(srv.URL, "/graphql/schema.graphql")
		if (status == http.StatusOK) != tc.introspection || (tc.introspection && !strings.Contains(body, "@auth")) {
			t.Errorf("%+v: schema.graphql %d", tc, status)
		}
		srv.Close()
	}
}
