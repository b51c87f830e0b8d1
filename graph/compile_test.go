package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"
)

// compileFor compiles query (its only operation, no variables) for a user.
func compileFor(t *testing.T, query string) (compiled, error) {
	t.Helper()
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}}).(*executableSchema)
	doc, errs := gqlparser.LoadQuery(es.Schema(), query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
	return compileOperation(context.Background(), oc, es, uuid.New(), DefaultMaxTagsPerUser, 1<<20)
}

// totalCount is counted inside the statement only when selected, as the resolvers count it only
// then (TestTotalCountOnlyWhenSelected); tags are read only when mentioned.
func TestCompiledCountsOnlyWhenSelected(t *testing.T) {
	without, err := compileFor(t, `{ tasks(first: 2) { nodes { id } } }`)
	if err != nil {
		t.Fatal(err)
	}
	with, err := compileFor(t, `{ tasks(first: 2) { ...F } } fragment F on TaskConnection { totalCount nodes { tags { id } } }`)
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(without.sql, "count(*) FROM tasks"); c != 0 {
		t.Errorf("without totalCount: %d counts in %s", c, without.sql)
	}
	if c := strings.Count(with.sql, "count(*) FROM tasks"); c != 1 {
		t.Errorf("with totalCount: %d counts in %s", c, with.sql)
	}
	if strings.Contains(without.sql, "task_tags") || !strings.Contains(with.sql, "task_tags") {
		t.Errorf("tags read when not selected, or not when selected:\n%s\n%s", without.sql, with.sql)
	}
}

// What the compiler does not cover falls back, with a reason; a statement never interpolates a
// client's value (ids, search text, cursors are parameters).
func TestCompilerFallsBackAndBindsValues(t *testing.T) {
	for _, q := range []string{
		`mutation { deleteTag(id: "x") }`,
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "Task") { name } }`,
		`{ task(id: "not-a-uuid") { id } }`,
		`{ tasks(first: 101) { nodes { id } } }`,
		`{ tasks(first: 1, last: 1) { nodes { id } } }`,
		`{ tasks(after: "bad") { nodes { id } } }`,
		`{ tasks(filter: {search: "` + strings.Repeat("s", 201) + `"}) { nodes { id } } }`,
	} {
		_, err := compileFor(t, q)
		var fb *fallback
		if err == nil || !asFallback(err, &fb) {
			t.Errorf("%s: compiled (err %v), want a fallback", q, err)
		}
	}
	id := uuid.NewString()
	c, err := compileFor(t, `{ task(id: "`+id+`") { id } tasks(filter: {search: "o'hara"}) { nodes { title } } }`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.sql, id) || strings.Contains(c.sql, "hara") {
		t.Errorf("a client's value is in the statement: %s", c.sql)
	}
}

func asFallback(err error, fb **fallback) bool {
	f, ok := err.(*fallback)
	*fb = f
	return ok
}
