package systemtest

import (
	"net/http"
	"strings"
	"testing"
)

// preflight sends a CORS preflight of a POST to base's /graphql from origin, asking for headers.
func preflight(t *testing.T, base, origin, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", headers)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSPreflightAllowsAuthorization(t *testing.T) {
	srv := newLiveEnv(t, nil).srv
	resp := preflight(t, srv.Base, "http://localhost:3000", "authorization,content-type")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
		t.Errorf("Allow-Origin = %q", got)
	}
	if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
		t.Errorf("Allow-Headers = %q, want authorization", got)
	}
	resp = preflight(t, srv.Base, "https://evil.example", "authorization,content-type")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("a foreign origin was allowed: %q", got)
	}
}

// Apollo Client's clientAwareness headers pass the preflight, and credentials are allowed to the
// listed origins (only: a foreign origin still gets nothing).
func TestCORSAllowsApolloClientHeadersAndCredentials(t *testing.T) {
	srv := newLiveEnv(t, nil).srv // CORS_ORIGINS=http://localhost:3000
	const headers = "apollographql-client-name,apollographql-client-version,authorization,content-type"
	resp := preflight(t, srv.Base, "http://localhost:3000", headers)
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
	resp = preflight(t, srv.Base, "https://evil.example", headers)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("a foreign origin was allowed: %v", resp.Header)
	}
}
