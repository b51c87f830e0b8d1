package graph_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/graph"
)

// serveCounting serves opts like serve, and counts the fields gqlgen's validation visits: the
// work the document limits exist to spare.
func (e *env) serveCounting(opts graph.Options) *atomic.Int64 {
	var validated atomic.Int64
	srv := graph.NewServer(e.store, opts)
	srv.SetValidationRulesFn(func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.AddRule("CountFields", func(o *core.Events, _ core.AddErrFunc) {
			o.OnField(func(*core.Walker, *ast.Field) { validated.Add(1) })
		})
		return r
	})
	e.handler = auth.Middleware(e.issuer.Verifier(e.t, e.store))(srv)
	return &validated
}

// Issue 9's document attacks, with a token and without: each is refused with its code before
// gqlgen validates it (no field visited by validation) and before any statement, with a short
// answer. BenchmarkAttacks times them.
func TestDocumentAttacksAreRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	validated := e.serveCounting(graph.Options{})
	anon, signed := (*auth.User)(nil), &e.a
	for _, tc := range []struct {
		name  string
		u     *auth.User
		query string
		code  string
	}{
		{"fragment explosion, 24 levels", anon, fragmentExplosion(24), "SELECTION_LIMIT_EXCEEDED"},
		{"fragment explosion, 40 levels", signed, fragmentExplosion(40), "SELECTION_LIMIT_EXCEEDED"},
		{"a field 10,000 times", anon, repeatedField(10000), "DOCUMENT_TOO_LARGE"},
		{"a field 700 times", anon, repeatedField(700), "SELECTION_LIMIT_EXCEEDED"},
		{"a field 4,000 times", signed, repeatedField(4000), "SELECTION_LIMIT_EXCEEDED"},
		{"a field 80,000 times", signed, repeatedField(80000), "DOCUMENT_TOO_LARGE"},
		{"30 × me { id × 30 }", signed, nestedRepeats(30, 30), "SELECTION_LIMIT_EXCEEDED"},
		{"an unused fragment of 60 × me { id × 60 }", signed, "{ __typename } fragment X on Query " + nestedRepeats(60, 60), "GRAPHQL_VALIDATION_FAILED"},
		{"10,000 @skip", anon, repeatedDirective(10000), "DOCUMENT_TOO_LARGE"},
		{"600 @skip", signed, repeatedDirective(600), "DIRECTIVE_LIMIT_EXCEEDED"},
		{"940 KB of aliases", anon, distinctAliases(940_000, "a"), "DOCUMENT_TOO_LARGE"},
		{"16 KB of aliases", signed, distinctAliases(16_000, "a"), "ALIAS_LIMIT_EXCEEDED"},
	} {
		validated.Store(0)
		e.stmts.Store(0)
		r := e.do(tc.u, tc.query, nil)
		if r.Status != http.StatusOK || r.code() != tc.code || len(r.Errors) != 1 || len(r.Raw) > 400 {
			t.Errorf("%s: %d %s, want 200 %s alone: %.300s", tc.name, r.Status, r.code(), tc.code, r.Raw)
		}
		if n, s := validated.Load(), e.stmts.Load(); n != 0 || s != 0 {
			t.Errorf("%s: validation visited %d fields and %d statements ran before the refusal", tc.name, n, s)
		}
	}
	// The counter counts: a document within the limits is validated.
	validated.Store(0)
	if r := e.do(anon, repeatedField(30), nil); len(r.Errors) != 0 || validated.Load() < 30 {
		t.Fatalf("30 fields: %s, %d validated", r.Raw, validated.Load())
	}
	e.noErrorLogs()
}

// Issue 9's row amplification, on the data that made it: 100 tasks with 1,000 tags each (written
// before MAX_TAGS_PER_TASK existed). Complexity counts rows now, so the attack is refused before
// any statement; what passes it, on data over today's bounds, meets the response budget instead
// of building megabytes.
func TestRowAmplificationIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedTagged(e.a, 100, 1000)
	for _, tc := range []struct {
		name, query, code string
	}{
		{"15 × tasks(first: 100) with tags", aliasedPages(15, "tags { id }"), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"50 × tasks(first: 100) with tags", aliasedPages(50, "tags { id }"), "ALIAS_LIMIT_EXCEEDED"},
		{"200 × tasks(first: 100)", aliasedPages(200, "id"), "ALIAS_LIMIT_EXCEEDED"},
	} {
		e.stmts.Store(0)
		r := e.do(&e.a, tc.query, nil)
		if r.code() != tc.code || len(r.Data) != 0 || e.stmts.Load() != 0 {
			t.Errorf("%s: %s after %d statements, want %s before any: %.300s", tc.name, r.code(), e.stmts.Load(), tc.code, r.Raw)
		}
	}
	// Two pages with their tags pass complexity (2 × 5,101); 200,000 tag rows do not fit 8 MiB.
	// This is about the response budget, not the deadline: on a saturated host those statements
	// have been seen to outlast the default 10 s REQUEST_TIMEOUT.
	e.serve(graph.Options{RequestTimeout: time.Minute})
	e.stmts.Store(0)
	r := e.do(&e.a, aliasedPages(2, "tags { id }"), nil)
	// The compiled statement (3 messages) finds the charge over the budget without building the
	// data, and the resolvers answer, as before (at most 8).
	if r.code() != "RESPONSE_TOO_LARGE" || len(r.Raw) > 20_000 || e.stmts.Load() > 3+8 {
		t.Errorf("two pages: %s, %d bytes, %d statements: %.300s", r.code(), len(r.Raw), e.stmts.Load(), r.Raw)
	}
	e.noErrorLogs()
}

// The response budget is charged as rows arrive: a page over it is refused, null and short, and
// no further rows are read for the same operation; a page under it passes.
func TestResponseBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serve(graph.Options{MaxResponseBytes: 20_000})
	long := strings.Repeat("x", 490)
	for i := range 30 {
		e.createTask(&e.a, map[string]any{"title": fmt.Sprintf("%s %02d", long, i)})
	}
	// 30 tasks of 500 characters with their overhead: about 27 KB.
	e.stmts.Store(0)
	e.compiled.Store(0)
	e.resolved.Store(0)
	r := e.do(&e.a, `{ a: tasks(first: 30) { nodes { title } } }`, nil)
	if r.code() != "RESPONSE_TOO_LARGE" || len(r.Raw) > 1000 || string(r.Data["a"]) != "" && string(r.Data["a"]) != "null" {
		t.Fatalf("30 long tasks: %.300s", r.Raw)
	}
	// The compiled read path found its charge over the budget and left the answer to the resolvers.
	if e.compiled.Load() != 0 || e.resolved.Load() != 1 {
		t.Fatalf("over the budget: %d compiled, %d by the resolvers; want the resolvers", e.compiled.Load(), e.resolved.Load())
	}
	var p struct{ Nodes []struct{ Title string } }
	e.ok(&e.a, `{ tasks(first: 5) { nodes { title } } }`, nil, "tasks", &p)
	if len(p.Nodes) != 5 || e.compiled.Load() != 1 {
		t.Fatalf("5 tasks (%d compiled): %+v", e.compiled.Load(), p)
	}
	// Once spent, the budget stops the resolvers that come after it before they read anything.
	e.stmts.Store(0)
	r = e.do(&e.a, `{ a: tasks(first: 30) { nodes { title } } b: tags { id } c: task(id: "`+newID()+`") { id } }`, nil)
	if r.code() != "RESPONSE_TOO_LARGE" || e.stmts.Load() > 12 {
		t.Fatalf("after the budget: %d statements, %.300s", e.stmts.Load(), r.Raw)
	}
	e.noErrorLogs()
}

// A response lists at most MaxErrors errors, then one that says how many more there were.
func TestErrorsPerResponseAreCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("{")
	for i := range 45 {
		fmt.Fprintf(&b, " nope%d", i)
	}
	b.WriteString(" }")
	r := e.do(&e.a, b.String(), nil)
	if len(r.Errors) != graph.MaxErrors+1 || r.Errors[graph.MaxErrors].Extensions["code"] != "TOO_MANY_ERRORS" ||
		!strings.Contains(r.Errors[graph.MaxErrors].Message, "25 more errors") || r.code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("%d errors: %.500s", len(r.Errors), r.Raw)
	}
	if r := e.do(&e.a, `{ nope1 nope2 }`, nil); len(r.Errors) != 2 {
		t.Fatalf("two errors: %s", r.Raw)
	}
}

// What a client sent comes back cut to a few hundred characters, if at all: an operation name,
// a field name, a body that is not JSON.
func TestEchoesAreCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	huge := strings.Repeat("A", 450_000)
	body := `{"query":"query Small { __typename }","operationName":"` + huge + `"}`
	status, code, raw := e.post(body, "")
	if status != http.StatusOK || code != "GRAPHQL_VALIDATION_FAILED" || len(raw) > 1000 {
		t.Errorf("a 450 KB operation name: %d %s, %d bytes: %.300s", status, code, len(raw), raw)
	}
	field := strings.Repeat("f", 60_000)
	if r := e.do(&e.a, "{ "+field+" }", nil); r.code() != "GRAPHQL_VALIDATION_FAILED" || len(r.Raw) > 1000 {
		t.Errorf("a 60 KB field name: %s, %d bytes", r.code(), len(r.Raw))
	}
	status, code, raw = e.post(`{"query": "{ __typename }", "secret-looking body`+huge[:1000], "")
	if status != http.StatusBadRequest || code != "BAD_REQUEST" || strings.Contains(raw, "secret-looking") || len(raw) > 500 {
		t.Errorf("a body that is not JSON: %d %s: %.300s", status, code, raw)
	}
	e.noErrorLogs()
}
