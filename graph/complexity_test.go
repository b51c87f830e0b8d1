package graph

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

var defaultSizes = listSizes{tagsPerTask: DefaultMaxTagsPerTask, tagsPerUser: DefaultMaxTagsPerUser}

// validated parses and validates query against the schema, as gqlgen does before the limits run.
func validated(t *testing.T, query string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	if errs := validator.ValidateWithRules(NewExecutableSchema(Config{}).Schema(), doc, rules.NewDefaultRules()); len(errs) > 0 {
		t.Fatalf("%s: %v", query, errs)
	}
	return doc
}

func costOf(t *testing.T, query string, vars map[string]any) int {
	t.Helper()
	doc := validated(t, query)
	c, _ := defaultSizes.cost(doc, doc.Operations[0], vars)
	return c
}

func TestComplexityCountsRows(t *testing.T) {
	t.Parallel()
	page := func(n string) string {
		return `tasks(first: ` + n + `) { nodes { id tags { id } } pageInfo { hasNextPage } }`
	}
	for _, tc := range []struct {
		query string
		vars  map[string]any
		want  int
	}{
		{`{ __typename me { id email } }`, nil, 1},
		{`{ tags { id name } }`, nil, 500},
		{`{ task(id: "x") { id tags { id } } }`, nil, 1 + 50},
		// first (default 20), last, a variable, out of range (clamped: the resolver refuses it).
		{`{ tasks { nodes { id } } }`, nil, 1 + 20},
		{`{ tasks(first: 5) { edges { cursor node { id } } } }`, nil, 1 + 5*2},
		{`{ tasks(last: 7) { nodes { id } totalCount } }`, nil, 1 + 7},
		{`query($n: Int) { tasks(first: $n) { nodes { id } } }`, map[string]any{"n": 42}, 1 + 42},
		{`{ tasks(first: 1000) { nodes { id } } }`, nil, 1 + 100},
		{`{ tasks(first: -3) { nodes { id } } }`, nil, 1},
		// A page with its tags: every task up to 50 tags.
		{`{ ` + page("100") + ` }`, nil, 1 + 100*51 + 1},
		// A fragment on the connection costs by the page it is spread under.
		{`{ a: tasks(first: 2) { ...C } b: tasks(first: 30) { ...C } } fragment C on TaskConnection { nodes { id } }`, nil, 1 + 2 + 1 + 30},
		// Mutations return objects too.
		{`mutation { createTask(input: {title: "t"}) { id tags { id } } deleteTag(id: "x") }`, nil, 1 + 50},
		// Introspection is bounded by its own limits (depth.go).
		{`{ __schema { types { name fields { name } } } __type(name: "Task") { fields { name } } }`, nil, 0},
	} {
		if got := costOf(t, tc.query, tc.vars); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.query, got, tc.want)
		}
	}
}

// Issue 9's row amplification: what gqlgen's count let through is now over the limit, and a full
// page (the example client's) is well under it.
func TestComplexityRefusesRowAmplification(t *testing.T) {
	t.Parallel()
	aliases := func(n int, node string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			b.WriteString(" p" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + ": tasks(first: 100) { nodes { " + node + " } }")
		}
		return b.String() + " }"
	}
	if got := costOf(t, aliases(200, "id"), nil); got != 200*101 || got <= DefaultComplexityLimit {
		t.Errorf("200 × tasks(first: 100): %d", got)
	}
	if got := costOf(t, aliases(50, "tags { id }"), nil); got != 50*(1+100*51) {
		t.Errorf("50 × tasks(first: 100) with tags: %d", got)
	}
	if got := costOf(t, aliases(2, "id title tags { id name }"), nil); got > DefaultComplexityLimit {
		t.Errorf("two full pages with tags: %d, over the limit", got)
	}
	if got := costOf(t, aliases(3, "id title tags { id name }"), nil); got <= DefaultComplexityLimit {
		t.Errorf("three full pages with tags: %d, within the limit", got)
	}
}

// The complexity walk costs each fragment once (per page size): linear in the document where
// gqlgen's walk took 2^n steps.
func TestComplexityWalkIsLinear(t *testing.T) {
	t.Parallel()
	doc := validated(t, explosion(30))
	cost, visits := defaultSizes.cost(doc, doc.Operations[0], nil)
	if cost != 0 || visits > 3*31 {
		t.Fatalf("30 levels: cost %d after %d visits, want 0 after at most %d", cost, visits, 3*31)
	}
	// The same with objects, and a page size that changes on the way down.
	q := `{ tasks(first: 3) { ...C0 } } fragment C0 on TaskConnection { nodes { id } ...C1 ...C1 }`
	for i := 1; i < 30; i++ {
		q += " fragment C" + strconv.Itoa(i) + " on TaskConnection { nodes { id } ...C" + strconv.Itoa(i+1) + " ...C" + strconv.Itoa(i+1) + " }"
	}
	q += " fragment C30 on TaskConnection { nodes { id } }"
	doc = validated(t, q)
	cost, visits = defaultSizes.cost(doc, doc.Operations[0], nil)
	if visits > 4*31+1 || cost != maxCost { // nodes, id and two spreads in each fragment
		t.Fatalf("connection fragments: cost %d after %d visits", cost, visits)
	}
}

// Every list field of the schema has a size in listSizes: a list added to the schema without one
// would be costed as unknownListSize.
func TestEveryListFieldHasASize(t *testing.T) {
	t.Parallel()
	schema := NewExecutableSchema(Config{}).Schema()
	for name, def := range schema.Types {
		if strings.HasPrefix(name, "__") || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			if f.Type.Elem == nil || strings.HasPrefix(f.Name, "__") {
				continue
			}
			items, _ := defaultSizes.items(name, f.Name, true, nil, 7)
			if items == unknownListSize {
				t.Errorf("%s.%s is a list without a size in listSizes", name, f.Name)
			}
		}
	}
}
