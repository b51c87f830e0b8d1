package graph_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// FuzzGraphQLAnonymous and FuzzGraphQLSignedIn send arbitrary documents, variables and operation
// names through the whole stack (auth middleware, transports, validation, resolvers, a real
// database), without a token and as user A. No input may panic, get a 5xx, carry an error code
// outside apierr.Codes, or write an ERROR log line; no answer's data holds an object of B (nor,
// without a token, of anyone).
func FuzzGraphQLAnonymous(f *testing.F) { fuzzGraphQL(f, false) }
func FuzzGraphQLSignedIn(f *testing.F)  { fuzzGraphQL(f, true) }

func fuzzGraphQL(f *testing.F, signedIn bool) {
	e := newEnv(f)
	aTag := e.createTag(&e.a, "home", nil)
	aTask := e.createTask(&e.a, map[string]any{"title": "a's", "tagIds": []string{aTag.ID}, "dueAt": "2030-01-01T00:00:00Z"})
	bTag := e.createTag(&e.b, "work", nil)
	bTask := e.createTask(&e.b, map[string]any{"title": "b's", "tagIds": []string{bTag.ID}})
	forbidden := []string{`"id":"` + bTask.ID + `"`, `"id":"` + bTag.ID + `"`, `"id":"` + e.b.ID + `"`, `"email":"` + e.b.Email + `"`}
	if !signedIn {
		forbidden = append(forbidden, `"id":"`+aTask.ID+`"`, `"id":"`+aTag.ID+`"`, `"email":`)
	}
	header := ""
	if signedIn {
		claims := e.issuer.Claims(e.a)
		claims["exp"] = time.Now().Add(48 * time.Hour).Unix() // outlives a long fuzzing run
		header = "Bearer " + e.issuer.Sign(f, claims, nil)
	}
	documented := map[string]bool{}
	for _, c := range apierr.Codes() {
		documented[c] = true
	}

	for _, s := range []struct{ query, variables, operation string }{
		{`{ __typename }`, ``, ``},
		{`query Me { me { id uuid email name } }`, ``, `Me`},
		{`{ tasks(first: 2, orderBy: {field: DUE_AT, direction: ASC}) { edges { cursor node { id title dueAt tags { id name } } } pageInfo { hasNextPage endCursor } totalCount } }`, ``, ``},
		{`query($a: String) { tasks(after: $a, filter: {search: "a", priorities: [LOW, HIGH], tagMatch: ALL, tagIds: ["` + aTag.ID + `"]}) { nodes { id } } }`, `{"a": "eyJ4IjoxfQ"}`, ``},
		{`query($id: ID!) { task(id: $id) { id title } tag(id: $id) { id } }`, `{"id": "` + bTask.ID + `"}`, ``},
		{`query($id: ID!) { task(id: $id) { id title tags { id } } }`, `{"id": "` + aTask.ID + `"}`, ``},
		{`mutation($in: CreateTaskInput!) { createTask(input: $in) { id dueAt } }`, `{"in": {"title": "t", "dueAt": "0000-01-01T00:00:00+23:59", "tagIds": ["` + bTag.ID + `"]}}`, ``},
		{`mutation($id: ID!, $in: UpdateTaskInput!) { updateTask(id: $id, input: $in) { id priority } }`, `{"id": "` + aTask.ID + `", "in": {"priority": null, "dueAt": "2024-01-01T00:00:00Z", "completed": true}}`, ``},
		{`mutation { createTag(input: {name: "Home", color: "#ABC"}) { id color } }`, ``, ``},
		{`mutation($id: ID!) { deleteTag(id: $id) deleteTask(id: $id) }`, `{"id": "` + bTag.ID + `"}`, ``},
		{`mutation($id: ID!, $c: String) { updateTag(id: $id, input: {color: $c}) { id } }`, `{"id": "` + aTag.ID + `", "c": "#12345g"}`, ``},
		{`query A { me { id } } query B { tags { id } }`, ``, `B`},
		{`query($n: Int) { tasks(last: $n, before: "x") { totalCount } }`, `{"n": 101}`, ``},
		{`fragment F on Task { id tags { id } } { tasks { nodes { ...F } } }`, ``, ``},
		{`{ tasks { nodes { id } } }`, `[1]`, ``},
		{`{ tasks(filter: {dueAfter: "2024-01-01T00:00:00Z", dueBefore: 5}) { totalCount } }`, `null`, ``},
		{"{ tasks(filter: {search: \"\xff\\u0000\"}) { totalCount } }", ``, ``},
		{`{ me { id } }`, `{"x": "\ud800"}`, "\xff"},
		{`subscription { me }`, ``, ``},
		{`{`, `{`, ``},
	} {
		f.Add(s.query, s.variables, s.operation)
	}

	f.Fuzz(func(t *testing.T, query, variables, operation string) {
		body := `{"query":` + jsonText(query) + `,"operationName":` + jsonText(operation)
		if variables != "" {
			body += `,"variables":` + variables
		}
		body += "}"
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		logged := len(e.logs.String())
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d for %s: %.500s", rec.Code, body, rec.Body)
		}
		var out struct {
			Data   json.RawMessage
			Errors []struct{ Extensions map[string]any }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON (%v) for %s: %.500s", err, body, rec.Body)
		}
		for _, gerr := range out.Errors {
			if code, _ := gerr.Extensions["code"].(string); !documented[code] {
				t.Fatalf("undocumented code %q for %s: %.500s", code, body, rec.Body)
			}
		}
		for _, s := range forbidden {
			if strings.Contains(string(out.Data), s) {
				t.Fatalf("data holds %s for %s: %.500s", s, body, rec.Body)
			}
		}
		if logs := e.logs.String()[logged:]; strings.Contains(logs, "level=ERROR") {
			t.Fatalf("ERROR log for %s: %.500s", body, logs)
		}
	})
}

// jsonText quotes s as a JSON string, escaping only what JSON requires: bytes that are not valid
// UTF-8 stay as they are, so that they reach the server.
func jsonText(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
