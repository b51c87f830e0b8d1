package apierr_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

func TestWriteIsAGraphQLErrorBody(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "5")
	apierr.Write(rec, http.StatusServiceUnavailable, apierr.AuthUnavailable, "no keys yet", map[string]string{"reason": "unavailable", "code": "IGNORED"})
	want := `{"errors":[{"message":"no keys yet","extensions":{"code":"AUTH_UNAVAILABLE","reason":"unavailable"}}]}` + "\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != want {
		t.Fatalf("got %d %s, want 503 %s", rec.Code, rec.Body, want)
	}
	if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("headers %v", rec.Header())
	}
}
