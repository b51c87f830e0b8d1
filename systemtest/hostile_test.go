package systemtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/apierr"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// hostile is one request of the corpus: POST (body, Content-Type application/json unless ctype
// says otherwise) or GET (rawQuery, sent as is), anonymous or as the signed-in user.
type hostile struct {
	name     string
	get      bool
	rawQuery string // GET: the URL's query, already encoded
	body     string // POST
	ctype    string // POST: "" is application/json, "none" sends no Content-Type
	chunked  bool   // POST: no Content-Length
	signedIn bool
	header   string // a literal Authorization header (overrides signedIn)
	code     string // the expected extensions.code of the first error
	status   int    // the expected HTTP status, when the README names it (0: not checked)
	field    string // the expected extensions.field, when there is one
}

func gql(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// manyMembers is a variables object of n members.
func manyMembers(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("v%d", i)] = i
	}
	return m
}

func getQuery(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return v.Encode()
}

// hostileServer is serve with its JSON log, which the test reads, and one signed-in user.
type hostileServer struct {
	base  string
	logs  *testkit.SyncBuffer
	token string
}

func newHostileServer(t *testing.T) *hostileServer {
	e := newAppEnv(t, testkit.NewIssuer(t, "EdDSA"), testkit.NewDBURL(t), nil)
	_, token := e.user("hostile")
	return &hostileServer{base: e.srv.Base, logs: e.srv.Stderr, token: token}
}

func (h *hostileServer) Send(t *testing.T, c hostile) (int, []byte) {
	t.Helper()
	var req *http.Request
	if c.get {
		req, _ = http.NewRequest(http.MethodGet, h.base+"/graphql?"+c.rawQuery, nil)
	} else {
		var body io.Reader = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // of unknown length
		}
		req, _ = http.NewRequest(http.MethodPost, h.base+"/graphql", body)
		ctype := c.ctype
		if ctype == "" {
			ctype = "application/json"
		}
		if ctype != "none" {
			req.Header.Set("Content-Type", ctype)
		}
	}
	switch {
	case c.header != "":
		req.Header.Set("Authorization", c.header)
	case c.signedIn:
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// cursorWith returns a real cursor of the signed-in user's tasks in order (TITLE or DUE_AT,
// ascending) with its sort value replaced by v: a forged cursor that passes the binding check.
func (h *hostileServer) cursorWith(t *testing.T, order, v string) string {
	t.Helper()
	_, b := h.Send(t, hostile{signedIn: true, body: gql(`query($o: TaskSortField!) { tasks(first: 1, orderBy: {field: $o, direction: ASC}) { edges { cursor } } }`, map[string]any{"o": order})})
	var out struct {
		Data struct {
			Tasks struct{ Edges []struct{ Cursor string } }
		}
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Data.Tasks.Edges) == 0 {
		t.Fatalf("no cursor: %s", b)
	}
	return testkit.ForgeCursor(t, out.Data.Tasks.Edges[0].Cursor, v)
}

// TestHostileRequestsAreClientErrors sends a corpus of malformed and hostile requests through the
// whole serve stack: none gets a 5xx, every error carries a documented code (the expected one),
// and none becomes an ERROR log line.
func TestHostileRequestsAreClientErrors(t *testing.T) {
	h := newHostileServer(t)
	for _, seed := range []string{
		`mutation { createTask(input: {title: "seed", dueAt: "2030-01-01T00:00:00Z"}) { id } }`,
		`mutation { createTag(input: {name: "seed"}) { id } }`,
	} {
		if status, b := h.Send(t, hostile{signedIn: true, body: gql(seed, nil)}); status != 200 || bytes.Contains(b, []byte("errors")) {
			t.Fatalf("seed: %d %s", status, b)
		}
	}
	titleNUL := h.cursorWith(t, "TITLE", "a\x00b")
	dueYear0 := h.cursorWith(t, "DUE_AT", "0000-01-01T00:00:00Z")
	dueYear10k := h.cursorWith(t, "DUE_AT", "10000-01-01T00:00:00Z")
	dueMinus1 := h.cursorWith(t, "DUE_AT", "-0001-12-31T00:00:00Z")
	tasksAfter := `query($a: String, $o: TaskSortField!) { tasks(after: $a, orderBy: {field: $o, direction: ASC}) { totalCount } }`
	createDue := `mutation($d: Time) { createTask(input: {title: "t", dueAt: $d}) { id } }`
	dueAfter := `query($d: Time) { tasks(filter: {dueAfter: $d}) { totalCount } }`
	huge := strings.Repeat("x", 300_000)

	corpus := []hostile{
		// The HTTP request itself.
		{name: "malformed JSON", body: `{"query": "{ __typename }"`, code: "BAD_REQUEST", status: 400},
		{name: "JSON array (batch)", body: `[{"query": "{ __typename }"}]`, code: "BAD_REQUEST", status: 400},
		{name: "query of the wrong type", body: `{"query": 5}`, code: "BAD_REQUEST", status: 400},
		{name: "variables of the wrong type", body: `{"query": "{ __typename }", "variables": "x"}`, code: "BAD_REQUEST", status: 400},
		{name: "empty body", body: ``, code: "BAD_REQUEST", status: 400},
		{name: "operationName of the wrong type", body: `{"query": "{ __typename }", "operationName": 5}`, code: "BAD_REQUEST", status: 400},
		{name: "chunked body over 1 MiB", chunked: true, body: gql(`{ __typename }`, map[string]any{"pad": strings.Repeat("x", maxBodyBytes)}), code: "BAD_REQUEST", status: 413},
		{name: "multipart upload", body: "--x\r\n\r\n--x--", ctype: "multipart/form-data; boundary=x", code: "BAD_REQUEST", status: 415},
		{name: "persisted query, unknown hash", body: `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}`, code: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "text/plain body", body: `{"query": "{ __typename }"}`, ctype: "text/plain", code: "BAD_REQUEST", status: 415},
		{name: "no Content-Type", body: `{"query": "{ __typename }"}`, ctype: "none", code: "BAD_REQUEST", status: 415},
		{name: "no query", body: `{}`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "GET without a query", get: true, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "GET bad percent-encoding", get: true, rawQuery: "query=%zz", code: "BAD_REQUEST", status: 400},
		{name: "GET variables not JSON", get: true, rawQuery: getQuery("query", "{ __typename }", "variables", "{"), code: "BAD_REQUEST", field: "variables", status: 400},
		{name: "GET extensions not JSON", get: true, rawQuery: getQuery("query", "{ __typename }", "extensions", "[1"), code: "BAD_REQUEST", field: "extensions", status: 400},
		{name: "GET mutation", get: true, signedIn: true, rawQuery: getQuery("query", `mutation { deleteTag(id: "x") }`), code: "BAD_REQUEST", status: 405},

		// Invalid UTF-8, wherever it is.
		{name: "UTF-8: POST query", body: "{\"query\": \"{ tasks(filter: {search: \\\"\xff\\\"}) { totalCount } }\"}", signedIn: true, code: "BAD_USER_INPUT", field: "query", status: 400},
		{name: "UTF-8: POST variables", body: "{\"query\": \"{ __typename }\", \"variables\": {\"s\": \"\xc3\"}}", code: "BAD_USER_INPUT", field: "variables", status: 400},
		{name: "UTF-8: POST operationName", body: "{\"query\": \"query A { __typename }\", \"operationName\": \"A\xe2\x82\"}", code: "BAD_USER_INPUT", field: "operationName", status: 400},
		{name: "UTF-8: POST member name", body: "{\"query\": \"{ __typename }\", \"\xff\": 1}", code: "BAD_USER_INPUT", status: 400},
		{name: "UTF-8: GET query string literal", get: true, signedIn: true, rawQuery: "query=%7Btasks(filter:%7Bsearch:%22%FF%22%7D)%7BtotalCount%7D%7D", code: "BAD_USER_INPUT", field: "query", status: 400},
		{name: "UTF-8: GET query outside a string", get: true, rawQuery: "query=%7B__typename%7D%FF", code: "BAD_USER_INPUT", field: "query", status: 400},
		{name: "UTF-8: GET operationName", get: true, rawQuery: "query=%7B__typename%7D&operationName=%FF", code: "BAD_USER_INPUT", field: "operationName", status: 400},
		{name: "UTF-8: GET variables", get: true, rawQuery: "query=%7B__typename%7D&variables=%7B%22a%22:%22%FF%22%7D", code: "BAD_USER_INPUT", field: "variables", status: 400},

		// GraphQL documents.
		{name: "parse error", body: gql(`{`, nil), code: "GRAPHQL_PARSE_FAILED"},
		{name: "unknown field", body: gql(`{ nope }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown operation name", body: `{"query": "query A { __typename }", "operationName": "B"}`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "huge unknown operation name", signedIn: true, body: `{"query": "query A { __typename }", "operationName": "` + strings.Repeat("B", 100_000) + `"}`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "two operations, no name", body: gql(`query A { __typename } query B { __typename }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "subscription", body: gql(`subscription { tasks }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "introspection (off in serve)", body: gql(`{ __schema { types { name } } }`, nil), code: "INTROSPECTION_DISABLED", status: 200},
		{name: "introspection over GET", get: true, rawQuery: getQuery("query", `{ __type(name: "Task") { name } }`), code: "INTROSPECTION_DISABLED", status: 200},
		{name: "huge operation name", signedIn: true, body: gql(`query `+strings.Repeat("N", 200_000)+` { __typename }`, nil), code: "DOCUMENT_TOO_LARGE", status: 200},
		{name: "anonymous body over 64 KiB", body: gql(`query `+strings.Repeat("N", 70_000)+` { __typename }`, nil), code: "BAD_REQUEST", status: 413},
		{name: "variables of 60,000 members", signedIn: true, body: gql(`{ me { id } }`, manyMembers(60_000)), code: "BAD_REQUEST", status: 400},
		{name: "variables at the member bound", signedIn: true, body: gql(`{ me { id } }`, manyMembers(900)), code: ""},
		{name: "long operation name, signed in", signedIn: true, body: gql(`query `+strings.Repeat("N", 50_000)+` { __typename }`, nil), code: ""},
		{name: "NUL in the document", body: gql("{ __typename \x00 }", nil), code: "GRAPHQL_PARSE_FAILED"},
		{name: "variable of the wrong type", signedIn: true, body: gql(`query($n: Int) { tasks(first: $n) { totalCount } }`, map[string]any{"n": "abc"}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "Int overflow literal", signedIn: true, body: gql(`{ tasks(first: 99999999999999999999) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "Int overflow variable", signedIn: true, body: `{"query": "query($n: Int) { tasks(first: $n) { totalCount } }", "variables": {"n": 99999999999999999999}}`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "Int32 overflow variable", signedIn: true, body: gql(`query($n: Int) { tasks(first: $n) { totalCount } }`, map[string]any{"n": int64(1) << 40}), code: "BAD_USER_INPUT", field: "first"},
		{name: "float for Int", signedIn: true, body: gql(`query($n: Int) { tasks(first: $n) { totalCount } }`, map[string]any{"n": 1.5}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown enum value", signedIn: true, body: gql(`{ tasks(orderBy: {field: SIZE}) { totalCount } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown enum variable", signedIn: true, body: gql(`query($p: [Priority!]) { tasks(filter: {priorities: $p}) { totalCount } }`, map[string]any{"p": []string{"HUGE"}}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "wrong input type", signedIn: true, body: gql(`mutation { createTask(input: {title: 5}) { id } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown input field", signedIn: true, body: gql(`mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }`, map[string]any{"i": map[string]any{"title": "t", "owner": "x"}}), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "missing required variable", signedIn: true, body: gql(`query($id: ID!) { task(id: $id) { id } }`, nil), code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "variables null", body: `{"query": "{ __typename }", "variables": null}`, code: ""},
		{name: "anonymous @auth field", body: gql(`{ me { id } }`, nil), code: "UNAUTHENTICATED"},
		{name: "anonymous mutation", body: gql(`mutation { deleteTask(id: "x") }`, nil), code: "UNAUTHENTICATED"},

		// Tokens.
		{name: "not a JWT", header: "Bearer abc", body: gql(`{ __typename }`, nil), code: "UNAUTHENTICATED", status: 401},
		{name: "Basic scheme", header: "Basic dXNlcjpwYXNz", body: gql(`{ __typename }`, nil), code: "UNAUTHENTICATED"},
		{name: "token with bad UTF-8", header: "Bearer \xff.\xfe.\xfd", body: gql(`{ __typename }`, nil), code: "UNAUTHENTICATED"},
		{name: "huge token", header: "Bearer " + strings.Repeat("A", 20_000), body: gql(`{ __typename }`, nil), code: "UNAUTHENTICATED"},

		// Times.
		{name: "time: year 0000", signedIn: true, body: gql(createDue, map[string]any{"d": "0000-01-01T00:00:00Z"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: year 0001 less a minute by offset", signedIn: true, body: gql(createDue, map[string]any{"d": "0001-01-01T00:00:00+00:01"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: offset +23:59", signedIn: true, body: gql(createDue, map[string]any{"d": "2024-01-01T00:00:00+23:59"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: offset -16:00", signedIn: true, body: gql(createDue, map[string]any{"d": "2024-01-01T00:00:00-16:00"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: rounds into year 10000", signedIn: true, body: gql(createDue, map[string]any{"d": "9999-12-31T23:59:59.9999999Z"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: past 9999 by offset", signedIn: true, body: gql(createDue, map[string]any{"d": "9999-12-31T23:59:59-00:01"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: five-digit year", signedIn: true, body: gql(createDue, map[string]any{"d": "10000-01-01T00:00:00Z"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: no offset", signedIn: true, body: gql(createDue, map[string]any{"d": "2024-01-01T00:00:00"}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: a number", signedIn: true, body: gql(createDue, map[string]any{"d": 1700000000}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: an object", signedIn: true, body: gql(createDue, map[string]any{"d": map[string]any{"t": 1}}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: 300 KB", signedIn: true, body: gql(createDue, map[string]any{"d": huge}), code: "BAD_USER_INPUT", field: "dueAt"},
		{name: "time: literal year 0000 in a filter", signedIn: true, body: gql(`{ tasks(filter: {dueBefore: "0000-06-01T00:00:00Z"}) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "dueBefore"},
		{name: "time: filter offset +23:59", signedIn: true, body: gql(dueAfter, map[string]any{"d": "0000-01-01T00:00:00+23:59"}), code: "BAD_USER_INPUT", field: "dueAfter"},

		// Ids, cursors, names, other arguments.
		{name: "id: not a UUID", signedIn: true, body: gql(`{ task(id: "1 OR 1=1") { id } }`, nil), code: "BAD_USER_INPUT", field: "id"},
		{name: "id: empty", signedIn: true, body: gql(`mutation { deleteTask(id: "") }`, nil), code: "BAD_USER_INPUT", field: "id"},
		{name: "id: 300 KB", signedIn: true, body: gql(`query($id: ID!) { tag(id: $id) { id } }`, map[string]any{"id": huge}), code: "BAD_USER_INPUT", field: "id"},
		{name: "id: unknown", signedIn: true, body: gql(`mutation { deleteTag(id: "00000000-0000-0000-0000-000000000001") }`, nil), code: "NOT_FOUND"},
		{name: "id: bad tagIds", signedIn: true, body: gql(`mutation { createTask(input: {title: "t", tagIds: ["x"]}) { id } }`, nil), code: "BAD_USER_INPUT", field: "tagIds"},
		{name: "id: unknown tagIds", signedIn: true, body: gql(`mutation { createTask(input: {title: "t", tagIds: ["00000000-0000-0000-0000-000000000001"]}) { id } }`, nil), code: "NOT_FOUND", field: "tagIds"},
		{name: "cursor: garbage", signedIn: true, body: gql(tasksAfter, map[string]any{"a": "!!!", "o": "TITLE"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: 300 KB", signedIn: true, body: gql(tasksAfter, map[string]any{"a": huge, "o": "TITLE"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: forged NUL title", signedIn: true, body: gql(tasksAfter, map[string]any{"a": titleNUL, "o": "TITLE"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: forged year 0000", signedIn: true, body: gql(tasksAfter, map[string]any{"a": dueYear0, "o": "DUE_AT"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: forged year 10000", signedIn: true, body: gql(tasksAfter, map[string]any{"a": dueYear10k, "o": "DUE_AT"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: forged year -1", signedIn: true, body: gql(tasksAfter, map[string]any{"a": dueMinus1, "o": "DUE_AT"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "cursor: another ordering's", signedIn: true, body: gql(tasksAfter, map[string]any{"a": titleNUL, "o": "CREATED_AT"}), code: "BAD_USER_INPUT", field: "after"},
		{name: "page: first -1", signedIn: true, body: gql(`{ tasks(first: -1) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "first"},
		{name: "page: first 101", signedIn: true, body: gql(`{ tasks(first: 101) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "first"},
		{name: "page: first and last", signedIn: true, body: gql(`{ tasks(first: 1, last: 1) { totalCount } }`, nil), code: "BAD_USER_INPUT", field: "last"},
		{name: "title: too long", signedIn: true, body: gql(`mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": huge}), code: "BAD_USER_INPUT", field: "title"},
		{name: "title: NUL", signedIn: true, body: gql(`mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": "a\x00b"}), code: "BAD_USER_INPUT", field: "title"},
		{name: "title: blank", signedIn: true, body: gql(`mutation { createTask(input: {title: "   "}) { id } }`, nil), code: "BAD_USER_INPUT", field: "title"},
		{name: "description: too long", signedIn: true, body: gql(`mutation($d: String) { createTask(input: {title: "t", description: $d}) { id } }`, map[string]any{"d": huge}), code: "BAD_USER_INPUT", field: "description"},
		{name: "search: too long", signedIn: true, body: gql(`query($s: String) { tasks(filter: {search: $s}) { totalCount } }`, map[string]any{"s": huge}), code: "BAD_USER_INPUT", field: "search"},
		{name: "search: NUL", signedIn: true, body: gql(`query($s: String) { tasks(filter: {search: $s}) { totalCount } }`, map[string]any{"s": "\x00"}), code: "BAD_USER_INPUT", field: "search"},
		{name: "search: lone surrogate escape", signedIn: true, body: `{"query": "query($s: String) { tasks(filter: {search: $s}) { totalCount } }", "variables": {"s": "\ud800"}}`, code: ""},
		{name: "tag name: too long", signedIn: true, body: gql(`mutation { createTag(input: {name: "`+strings.Repeat("n", 51)+`"}) { id } }`, nil), code: "BAD_USER_INPUT", field: "name"},
		{name: "tag name: duplicate", signedIn: true, body: gql(`mutation { createTag(input: {name: "SEED"}) { id } }`, nil), code: "CONFLICT"},
		{name: "color: not a color", signedIn: true, body: gql(`mutation { createTag(input: {name: "c", color: "red"}) { id } }`, nil), code: "BAD_USER_INPUT", field: "color"},
		{name: "color: 300 KB", signedIn: true, body: gql(`mutation($c: String) { createTag(input: {name: "c", color: $c}) { id } }`, map[string]any{"c": "#" + huge}), code: "BAD_USER_INPUT", field: "color"},
	}
	documented := map[string]bool{}
	for _, code := range apierr.Codes() {
		documented[code] = true
	}
	for _, c := range corpus {
		before := len(errorLines(h.logs.String()))
		status, b := h.Send(t, c)
		var out struct {
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Errorf("%s: %d, not JSON: %.200s", c.name, status, b)
			continue
		}
		if c.status != 0 && status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, status, c.status, b)
		}
		if status >= 500 {
			t.Errorf("%s: status %d: %.300s", c.name, status, b)
		}
		for _, e := range out.Errors {
			if code, _ := e.Extensions["code"].(string); !documented[code] {
				t.Errorf("%s: undocumented code %q: %.300s", c.name, code, b)
			}
		}
		switch {
		case c.code == "" && (status != http.StatusOK || len(out.Errors) > 0):
			t.Errorf("%s: %d %.300s, want an answer", c.name, status, b)
		case c.code != "" && len(out.Errors) == 0:
			t.Errorf("%s: %d %.300s, want %s", c.name, status, b, c.code)
		case c.code != "":
			if got := out.Errors[0].Extensions["code"]; got != c.code {
				t.Errorf("%s: code %v, want %s: %.300s", c.name, got, c.code, b)
			}
			if got, _ := out.Errors[0].Extensions["field"].(string); got != c.field {
				t.Errorf("%s: field %q, want %q: %.300s", c.name, got, c.field, b)
			}
		}
		if lines := errorLines(h.logs.String()); len(lines) > before {
			t.Errorf("%s: ERROR log line: %.300s", c.name, lines[before:])
		}
	}
}
