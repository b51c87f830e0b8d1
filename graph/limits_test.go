package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// explosion is n fragments on Query, each spreading the next one twice: 2^n selections expanded.
func explosion(n int) string {
	var b strings.Builder
	b.WriteString("query Explode { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Query { __typename ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

func shapeOf(t *testing.T, query string) documentShape {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	return measureDocument(doc)
}

func TestDocumentShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  documentShape
	}{
		{`{ a }`, documentShape{selections: 1}},
		{`{ a b { c } }`, documentShape{selections: 3}},
		{`{ x: a y: a z: b }`, documentShape{aliases: 3, selections: 3}},
		{`{ a: a }`, documentShape{selections: 1}}, // an alias that is the name changes nothing
		{`{ a a a }`, documentShape{selections: 3, mergePairs: 3}},
		// Merged fields merge their selections: the two c meet at a.c.
		{`{ a { c } a { c } }`, documentShape{selections: 4, mergePairs: 2}},
		{`{ a { c } b { c } }`, documentShape{selections: 4}},
		{`query Q($v: Int @d) @d { a @d @e { b @d } ...F @d ... on T @d { c } } fragment F on T @d { c }`,
			documentShape{directives: 8, selections: 6, mergePairs: 1}},
		// A fragment counts where it is spread, every time.
		{`{ x: a { ...F } y: a { ...F } } fragment F on T { b c }`, documentShape{aliases: 2, selections: 8}},
		{`{ ...F ...F } fragment F on T { b }`, documentShape{selections: 4, mergePairs: 1}},
		// Unknown fragments and cycles are validation's to refuse; the walk does not follow them.
		{`{ ...Nope a }`, documentShape{selections: 2}},
		{`{ ...A } fragment A on T { a ...B } fragment B on T { b ...A }`, documentShape{selections: 5}},
		{`{ a } fragment Lost on T { b }`, documentShape{selections: 1, unused: "Lost"}},
	} {
		if got := shapeOf(t, tc.query); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

// branching is n fragments each spreading the next under two fields: 2^n selections expanded, each
// at a place of its own (nothing to merge).
func branching(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on T { a { ...F%d } b { ...F%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on T { c }\n", n)
	return b.String()
}

// The walk before validation ends at the first limit it passes, however fragments nest: after
// MaxSelections+1 selections, or once the pairs to merge pass MaxMergePairs.
func TestDocumentWalkIsBounded(t *testing.T) {
	t.Parallel()
	for _, n := range []int{8, 24, 40} {
		s := shapeOf(t, branching(n))
		want := min(5<<n-3, MaxSelections+1) // the root spread, 4 selections in each of 2^i copies of F(i<n), 1 in each F(n)
		if s.selections != want || s.mergePairs != 0 {
			t.Errorf("%d levels branching: %d selections visited, %d pairs; want %d, 0", n, s.selections, s.mergePairs, want)
		}
		s = shapeOf(t, explosion(n)) // 2^n __typename at the root: pairs
		if n >= 24 && (s.mergePairs <= MaxMergePairs || s.mergePairs > MaxMergePairs+64 || s.selections > 100) {
			t.Errorf("%d levels: stopped after %d selections and %d pairs", n, s.selections, s.mergePairs)
		}
	}
	for _, q := range []string{explosion(40), branching(40)} {
		if err := signedInBudget.check(q); err == nil || err.Extensions["code"] != apierr.SelectionLimitExceeded {
			t.Errorf("40 levels: %v", err)
		}
	}
}

func TestDocumentBudgets(t *testing.T) {
	t.Parallel()
	code := func(b documentBudget, q string) string {
		if err := b.check(q); err != nil {
			return err.Extensions["code"].(string)
		}
		return ""
	}
	typenames := func(n int) string { return "{" + strings.Repeat(" t: __typename", n) + " }" }
	for _, tc := range []struct {
		name         string
		query        string
		anon, signed string
	}{
		{"small", `{ __typename }`, "", ""},
		{"9 KB", `{ __typename }` + strings.Repeat(" ", 9<<10), apierr.DocumentTooLarge, ""},
		{"65 KB", `{ __typename }` + strings.Repeat(" ", 65<<10), apierr.DocumentTooLarge, apierr.DocumentTooLarge},
		{"1,001 tokens", "{" + strings.Repeat(" a", 999) + " }", apierr.DocumentTooLarge, apierr.SelectionLimitExceeded},
		{"5,001 tokens", "{" + strings.Repeat(" a", 4999) + " }", apierr.DocumentTooLarge, apierr.DocumentTooLarge},
		{"comments count", "#\n" + strings.Repeat("#\n", 1000) + "{ a }", apierr.DocumentTooLarge, ""},
		{"15 aliases", typenames(15), "", ""},
		{"16 aliases", typenames(16), apierr.AliasLimitExceeded, apierr.AliasLimitExceeded},
		{"50 directives", "{ a" + strings.Repeat(" @skip(if: false)", 50) + " }", "", ""},
		{"51 directives", "{ a" + strings.Repeat(" @skip(if: false)", 51) + " }", apierr.DirectiveLimitExceeded, apierr.DirectiveLimitExceeded},
		{"32 repeats", "{" + strings.Repeat(" a", 32) + " }", "", ""},                                                       // 496 pairs
		{"33 repeats", "{" + strings.Repeat(" a", 33) + " }", apierr.SelectionLimitExceeded, apierr.SelectionLimitExceeded}, // 528
		{"unused fragment", `{ a } fragment F on Query { b }`, apierr.ValidationFailed, apierr.ValidationFailed},
		{"does not parse", `{ a `, "", ""}, // gqlgen reports it
	} {
		if got := code(anonymousBudget, tc.query); got != tc.anon {
			t.Errorf("%s, anonymous: %q, want %q", tc.name, got, tc.anon)
		}
		if got := code(signedInBudget, tc.query); got != tc.signed {
			t.Errorf("%s, signed in: %q, want %q", tc.name, got, tc.signed)
		}
	}
}

// The documents real clients send pass with room to spare: the standard introspection queries
// without a token, the example client's operations (as urql sends them: with __typename in every
// selection set and the fragments they use) with one.
func TestLegitimateDocumentsPassTheLimits(t *testing.T) {
	t.Parallel()
	docs := map[string]string{}
	files, _ := filepath.Glob("testdata/introspection/*.graphql")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs["anonymous "+filepath.Base(f)] = string(b)
	}
	ops := exampleOperations(t)
	for name, q := range ops {
		docs[name] = q
	}
	if len(files) < 5 || len(ops) < 10 {
		t.Fatalf("found %d introspection queries and %d operations", len(files), len(ops))
	}
	schema := NewExecutableSchema(Config{}).Schema()
	sizes := listSizes{tagsPerTask: DefaultMaxTagsPerTask, tagsPerUser: DefaultMaxTagsPerUser}
	for name, q := range docs {
		b := signedInBudget
		if strings.HasPrefix(name, "anonymous ") {
			b = anonymousBudget
		}
		if err := b.check(q); err != nil {
			t.Errorf("%s refused: %s", name, err.Message)
			continue
		}
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		if errs := validator.ValidateWithRules(schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		s := measureDocument(doc)
		cost, _ := sizes.cost(doc, doc.Operations[0], map[string]any{"first": 100})
		t.Logf("%-45s %5d bytes %4d tokens %2d aliases %2d directives %4d selections %2d pairs, complexity %5d at first: 100",
			name, len(q), tokens(q, 1<<20), s.aliases, s.directives, s.selections, s.mergePairs, cost)
		if s.selections > MaxSelections/4 || s.mergePairs > MaxMergePairs/4 || cost > DefaultComplexityLimit/2 {
			t.Errorf("%s is within a factor of 2–4 of a limit", name)
		}
	}
}

// exampleOperations are the graphql(`...`) documents of examples/urql-client (which the e2e suite
// sends too), each with the fragments it spreads and __typename added to every selection set, as
// urql's document cache sends them.
func exampleOperations(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("../examples/urql-client/src/operations.ts")
	if err != nil {
		t.Fatal(err)
	}
	fragments := map[string]string{}
	ops := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)graphql\\(`(.*?)`\\)").FindAllStringSubmatch(string(src), -1) {
		doc := strings.ReplaceAll(strings.TrimSpace(m[1]), "}", " __typename }")
		words := strings.Fields(doc)
		if len(words) < 2 || !regexp.MustCompile(`^(query|mutation|fragment)$`).MatchString(words[0]) {
			continue // the comment that names graphql(`...`)
		}
		name, _, _ := strings.Cut(words[1], "(")
		if strings.HasPrefix(doc, "fragment") {
			fragments[name] = doc
		} else {
			ops[name] = doc
		}
	}
	for name, doc := range ops {
		for f, def := range fragments {
			if strings.Contains(doc, "..."+f) {
				doc += "\n" + def
			}
		}
		ops[name] = doc
	}
	return ops
}

// The walk after validation (depth.go) expands fragments too, and stops after MaxSelections.
func TestOperationWalkIsBounded(t *testing.T) {
	t.Parallel()
	s := served.measure(parse(t, explosion(40)))
	if s.visits != MaxSelections+1 {
		t.Fatalf("the walk visited %d selections, want it stopped at %d", s.visits, MaxSelections+1)
	}
	if got := refusal(served, parse(t, explosion(40))); got != apierr.SelectionLimitExceeded {
		t.Fatalf("refusal %q", got)
	}
}
