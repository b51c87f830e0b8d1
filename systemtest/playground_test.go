package systemtest

import (
	"io"
	"net/http"
	"strconv"
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
	iss, dbURL := testkit.NewIssuer(t, "EdDSA"), testkit.NewDBURL(t)
	for _, tc := range []struct{ playground, introspection bool }{{true, false}, {false, true}, {true, true}} {
		srv := startServe(t, iss, dbURL, map[string]string{
			"GRAPHQL_PLAYGROUND": strconv.FormatBool(tc.playground), "GRAPHQL_INTROSPECTION": strconv.FormatBool(tc.introspection)})
		status, h, _ := get(srv.Base, "/")
		if (status == http.StatusOK) != tc.playground || (tc.playground && !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'")) {
			t.Errorf("%+v: GET / %d, CSP %q", tc, status, h.Get("Content-Security-Policy"))
		}
		status, _, body := get(srv.Base, "/ide/config.json")
		if (status == http.StatusOK) != tc.playground || strings.Contains(body, "Authorization") {
			t.Errorf("%+v: config.json %d %s", tc, status, body)
		}
		status, _, body = get(srv.Base, "/graphql/schema.graphql")
		if (status == http.StatusOK) != tc.introspection || (tc.introspection && !strings.Contains(body, "@auth")) {
			t.Errorf("%+v: schema.graphql %d", tc, status)
		}
	}
}
