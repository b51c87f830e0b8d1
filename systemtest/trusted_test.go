package systemtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// The manifest of the trusted-documents tests, as GraphQL Code Generator's client preset writes
// it ("sha256:" + hex of each document's text).
const (
	trustedMe     = "query Me { me { email } }"
	trustedCreate = "mutation Create($title: String!) { createTask(input: {title: $title}) { id } }"
	trustedEvents = "subscription Events { taskEvents { kind id } }"
)

func sha(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

func writeManifest(t *testing.T, docs ...string) string {
	t.Helper()
	m := map[string]string{}
	for _, d := range docs {
		m["sha256:"+sha(d)] = d
	}
	b, _ := json.Marshal(m)
	path := filepath.Join(t.TempDir(), "persisted-documents.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// trustedServer is serve with a manifest, and a signed-in user.
func trustedServer(t *testing.T, mode string) (base, token string, logs *testkit.SyncBuffer) {
	t.Helper()
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	vars := map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL(),
		"TRUSTED_DOCUMENTS": writeManifest(t, trustedMe, trustedCreate, trustedEvents), "GRAPHQL_INTROSPECTION": "true",
		"METRICS_PUBLIC": "true"}
	if mode != "" {
		vars["TRUSTED_DOCUMENTS_MODE"] = mode
	}
	base, logs = serveProcess(t, vars)
	_, token = signedIn(t, iss, dbURL, "td")
	return base, token, logs
}

// gqlPost sends body (a JSON object) to /graphql and returns the status and the decoded answer.
func gqlPost(t *testing.T, base, token, accept string, body map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return doRead(t, req)
}

func doRead(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "event-stream"
	}
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func untrustedCount(t *testing.T, base string) string {
	t.Helper()
	for _, line := range strings.Split(testkit.Scrape(t, base), "\n") {
		if strings.HasPrefix(line, "taskgraph_untrusted_documents_total ") {
			return strings.TrimPrefix(line, "taskgraph_untrusted_documents_total ")
		}
	}
	return "missing"
}

// TestTrustedDocumentsEnforcedOnEveryTransport: with a manifest in enforce mode, POST, GET, SSE
// and WebSocket run the manifest's documents (named by documentId, bare or "sha256:", by
// extensions.persistedQuery, or sent as their own text) and refuse anything else with
// TRUSTED_DOCUMENT_REQUIRED, introspection and APQ registrations included.
func TestTrustedDocumentsEnforcedOnEveryTransport(t *testing.T) {
	base, token, _ := trustedServer(t, "")
	const me = `"me":{"email":"td@example.com"}`
	refused := `"code":"TRUSTED_DOCUMENT_REQUIRED"`
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"documentId sha256:", map[string]any{"documentId": "sha256:" + sha(trustedMe)}, 200, me},
		{"documentId bare", map[string]any{"documentId": sha(trustedMe)}, 200, me},
		{"persistedQuery", map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(trustedMe)}}}, 200, me},
		{"the manifest's text", map[string]any{"query": trustedMe}, 200, me},
		{"other text", map[string]any{"query": "{ me { id } }"}, 400, refused},
		{"introspection", map[string]any{"query": "{ __schema { types { name } } }"}, 400, refused},
		{"APQ registration", map[string]any{"query": "{ me { id } }", "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha("{ me { id } }")}}}, 400, refused},
		{"unknown documentId", map[string]any{"documentId": sha("nothing")}, 200, `"code":"PERSISTED_QUERY_NOT_FOUND"`},
	} {
		status, out := gqlPost(t, base, token, "", c.body)
		if status != c.status || !strings.Contains(out, c.want) {
			t.Errorf("POST %s: %d %s, want %d with %s", c.name, status, out, c.status, c.want)
		}
	}
	if got := untrustedCount(t, base); got != "3" {
		t.Errorf("taskgraph_untrusted_documents_total = %s, want 3", got)
	}
	// The manifest's operation names are the metrics' labels.
	if m := testkit.Scrape(t, base); !strings.Contains(m, `taskgraph_graphql_requests_total{operation="Me",outcome="ok"}`) {
		t.Errorf("the manifest's operation Me is not a label:\n%s", m)
	}

	get := func(params url.Values) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/graphql?"+params.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return doRead(t, req)
	}
	if status, out := get(url.Values{"documentId": {"sha256:" + sha(trustedMe)}}); status != 200 || !strings.Contains(out, me) {
		t.Errorf("GET documentId: %d %s", status, out)
	}
	if status, out := get(url.Values{"query": {"{ me { id } }"}}); status != 400 || !strings.Contains(out, refused) {
		t.Errorf("GET other text: %d %s", status, out)
	}

	sse := "text/event-stream"
	if status, out := gqlPost(t, base, token, sse, map[string]any{"query": "subscription { tagEvents { kind } }"}); status != 400 || !strings.Contains(out, refused) {
		t.Errorf("SSE other text: %d %s", status, out)
	}
	if status, out := gqlPost(t, base, token, sse, map[string]any{"documentId": sha(trustedEvents)}); status != 200 || out != "event-stream" {
		t.Errorf("SSE documentId: %d %s, want a stream", status, out)
	}

	w := testkit.ConnectWS(t, base, token)
	w.Subscribe("other", "subscription { tagEvents { kind } }")
	if m := w.Next("other", 5*time.Second); (m.Type != "error" && m.Type != "next") || !strings.Contains(string(m.Payload), refused) {
		t.Errorf("WebSocket other text: %s %s", m.Type, m.Payload)
	}
	payload, _ := json.Marshal(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(trustedEvents)}}})
	if err := w.Send(testkit.WSMessage{ID: "events", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the subscription to open", 5*time.Second, func() bool {
		status, out := gqlPost(t, base, token, "", map[string]any{"documentId": sha(trustedCreate), "variables": map[string]any{"title": "seen"}})
		if status != 200 || !strings.Contains(out, `"createTask"`) {
			t.Fatalf("createTask by documentId: %d %s", status, out)
		}
		select {
		case m := <-w.Ch("events"):
			if m.Type != "next" || !strings.Contains(string(m.Payload), `"kind":"CREATED"`) {
				t.Fatalf("WebSocket manifest subscription: %s %s", m.Type, m.Payload)
			}
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
}

// TestTrustedDocumentsLogMode runs an untrusted document, counts it and logs its operation name
// and hash at INFO, never its variables.
func TestTrustedDocumentsLogMode(t *testing.T) {
	base, token, logs := trustedServer(t, "log")
	status, out := gqlPost(t, base, token, "", map[string]any{"query": "query Other($x: ID!) { me { id } task(id: $x) { id } }", "operationName": "Other", "variables": map[string]any{"x": "secret-variable"}})
	if status != 200 || !strings.Contains(out, `"me":{"id":"td"}`) {
		t.Fatalf("log mode ran nothing: %d %s", status, out)
	}
	if got := untrustedCount(t, base); got != "1" {
		t.Errorf("taskgraph_untrusted_documents_total = %s, want 1", got)
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "untrusted document" {
			line = m
		}
	}
	if line == nil || line["level"] != "INFO" || line["operation"] != "Other" || line["hash"] != sha("query Other($x: ID!) { me { id } task(id: $x) { id } }") {
		t.Errorf("the untrusted document's log line: %v", line)
	}
	if strings.Contains(logs.String(), "secret-variable") {
		t.Error("the log holds a variable's value")
	}
}

// TestTrustedDocumentsManifestErrorsStopServe: a missing or malformed manifest stops serve with
// a message naming TRUSTED_DOCUMENTS.
func TestTrustedDocumentsManifestErrorsStopServe(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"sha256:00": "query Me { me { email } }"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, vars := range map[string]map[string]string{
		"missing":   {"TRUSTED_DOCUMENTS": filepath.Join(t.TempDir(), "none.json")},
		"malformed": {"TRUSTED_DOCUMENTS": bad},
		"bad mode":  {"TRUSTED_DOCUMENTS": writeManifest(t, trustedMe), "TRUSTED_DOCUMENTS_MODE": "sometimes"},
		"mode only": {"TRUSTED_DOCUMENTS_MODE": "log"},
	} {
		vars["BETTER_AUTH_URL"], vars["ADDR"] = iss.URL, "127.0.0.1:0"
		code, _, stderr := testkit.Run(t, bin, vars, "serve")
		if code != 1 || !strings.Contains(stderr, "TRUSTED_DOCUMENTS") {
			t.Errorf("%s: exit %d, %q; want 1 naming TRUSTED_DOCUMENTS", name, code, stderr)
		}
	}
}

// signedIn creates the user id (email id@example.com) in dbURL's "user" table and returns it with
// a token iss signed for it.
func signedIn(t *testing.T, iss *testkit.Issuer, dbURL, id string) (auth.User, string) {
	t.Helper()
	x := testkit.OpenDB(t, dbURL)
	u := auth.User{ID: id, Email: id + "@example.com", Name: strings.ToUpper(id)}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	return u, iss.TokenFor(t, u)
}
