package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

func TestLimitsFromTheEnvironment(t *testing.T) {
	l, err := environment(env(nil)).limits()
	if err != nil || l != (limits{RequestTimeout: graph.DefaultRequestTimeout, MaxTagsPerTask: graph.DefaultMaxTagsPerTask, MaxTagsPerUser: graph.DefaultMaxTagsPerUser}) {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	l, err = environment(env(map[string]string{"REQUEST_TIMEOUT": "2500ms", "MAX_TAGS_PER_TASK": "7", "MAX_TAGS_PER_USER": "70"})).limits()
	if err != nil || l != (limits{RequestTimeout: 2500 * time.Millisecond, MaxTagsPerTask: 7, MaxTagsPerUser: 70}) {
		t.Fatalf("set: %+v %v", l, err)
	}
	for key, v := range map[string]string{"REQUEST_TIMEOUT": "soon", "MAX_TAGS_PER_TASK": "0", "MAX_TAGS_PER_USER": "many"} {
		if _, err := environment(env(map[string]string{key: v})).limits(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: %v", key, v, err)
		}
	}
	for _, v := range []string{"0s", "-1s", "2m"} {
		if _, err := environment(env(map[string]string{"REQUEST_TIMEOUT": v})).limits(); err == nil {
			t.Errorf("REQUEST_TIMEOUT=%s accepted", v)
		}
	}
	// serve reads them too.
	cfg, err := environment(env(map[string]string{"BETTER_AUTH_URL": "http://localhost:3000", "MAX_TAGS_PER_USER": "9"})).serve()
	if err != nil || cfg.Limits.MaxTagsPerUser != 9 {
		t.Fatalf("serve: %+v %v", cfg.Limits, err)
	}
}

// The request log line quotes at most maxLoggedValue bytes of what a client named: a 60 KB
// operation name (a document within the limits) is cut, a 450 KB operationName that names no
// operation is not logged at all, and neither is echoed whole in the answer.
func TestRequestLogCutsClientValues(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	a := newLiveApp(t, iss, live.Config{})
	var logs testkit.SyncBuffer
	a.logger = slog.New(contextHandler{slog.NewJSONHandler(&logs, nil)})
	testkit.WaitKeysLoaded(t, a.verifier)
	u := auth.User{ID: "log-user", Email: "l@example.com", Name: "L"}
	u.UUID = testkit.CreateUser(t, a.db, u.ID, u.Email, u.Name)
	h := a.handler()
	post := func(body map[string]string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+iss.TokenFor(t, u))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	name := "Q" + strings.Repeat("n", 60_000)
	if rec := post(map[string]string{"query": "query " + name + " { __typename }"}); rec.Code != http.StatusOK {
		t.Fatalf("a long operation name: %d %.300s", rec.Code, rec.Body)
	}
	if rec := post(map[string]string{"query": "{ __typename }", "operationName": strings.Repeat("x", 450_000)}); rec.Code != http.StatusOK || rec.Body.Len() > 1000 {
		t.Fatalf("a long operationName: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines", len(lines))
	}
	for _, l := range lines {
		var rec struct{ Operation string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil || len(l) > 600 || len(rec.Operation) > maxLoggedValue {
			t.Errorf("log line of %d bytes, operation of %d: %.300s", len(l), len(rec.Operation), l)
		}
	}
	if !strings.Contains(lines[0], `"operation":"Qnnn`) {
		t.Errorf("the cut name is not logged: %.300s", lines[0])
	}
}
