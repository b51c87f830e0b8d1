package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// unbounded measures without stopping early.
var unbounded = operationLimits{introspection: true, maxDepth: 1 << 20, maxIntrospectionDepth: 1 << 20, maxIntrospectionFields: 1 << 20, maxSelections: 1 << 20}

// served are the limits NewServer uses with introspection on.
var served = operationLimits{introspection: true, maxDepth: MaxDepth, maxIntrospectionDepth: MaxIntrospectionDepth, maxIntrospectionFields: MaxIntrospectionFields, maxSelections: MaxSelections}

// parse parses a document (not validated: the walk needs no schema) and returns its first
// operation's selection set.
func parse(t *testing.T, query string) ast.SelectionSet {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	// The validator links spreads to their definitions; without a schema, do it here.
	var link func(ast.SelectionSet)
	link = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				link(s.SelectionSet)
			case *ast.InlineFragment:
				link(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition == nil {
					s.Definition = doc.Fragments.ForName(s.Name)
					if s.Definition != nil {
						link(s.Definition.SelectionSet)
					}
				}
			}
		}
	}
	link(doc.Operations[0].SelectionSet)
	return doc.Operations[0].SelectionSet
}

// nested returns `{ f1 { f2 { ... fn } } }` with the given field names.
func nested(names ...string) string {
	return "{ " + strings.Join(names, " { ") + strings.Repeat(" }", len(names))
}

func repeat(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name
	}
	return out
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query string
		want  shape
	}{
		{`{ a }`, shape{depth: 1}},
		{`{ a { b { c } } d }`, shape{depth: 3}},
		{`{ a { ... on T { b { c { d } } } } }`, shape{depth: 4}},
		{`{ a { ...F } } fragment F on T { b { c } }`, shape{depth: 3}},
		{`{ a { b { __typename } } __typename }`, shape{depth: 2}},
		{nested("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"), shape{depth: 12}},
		{`{ __schema { types { name } } }`, shape{introspects: true, introspectionDepth: 3, introspectionFields: 3}},
		{`{ __type(name: "Task") { name fields { name } } me { id } }`, shape{depth: 2, introspects: true, introspectionDepth: 3, introspectionFields: 4}},
		{`{ ...Q } fragment Q on Query { __schema { queryType { name } } }`, shape{introspects: true, introspectionDepth: 3, introspectionFields: 3}},
		{`{ a: __typename }`, shape{}},
	}
	for _, tc := range cases {
		got := unbounded.measure(parse(t, tc.query))
		got.visits = 0 // TestWalksAreBounded counts them
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

// refusal returns the code of check's refusal, or "".
func refusal(l operationLimits, set ast.SelectionSet) string {
	if err := l.check(set); err != nil {
		return err.Extensions["code"].(string)
	}
	return ""
}

func TestDataDepthLimit(t *testing.T) {
	t.Parallel()
	letters := strings.Split("abcdefghijklmnop", "")
	for depth, want := range map[int]string{1: "", 10: "", 11: "DEPTH_LIMIT_EXCEEDED", 16: "DEPTH_LIMIT_EXCEEDED"} {
		q := nested(letters[:depth]...)
		if got := refusal(served, parse(t, q)); got != want {
			t.Errorf("%d data fields deep: %q, want %q", depth, got, want)
		}
	}
	// Fragments add no level of their own, but their fields count where they are spread.
	deep := `{ a { b { c { d { e { ...F } } } } } } fragment F on T { f { g { h { i { j { k } } } } } }`
	if got := refusal(served, parse(t, deep)); got != "DEPTH_LIMIT_EXCEEDED" {
		t.Errorf("11 deep through a fragment: %q", got)
	}
	// __typename is free: ten data fields and a __typename under the tenth pass.
	if got := refusal(served, parse(t, nested(append(letters[:10], "__typename")...))); got != "" {
		t.Errorf("ten fields and __typename: %q", got)
	}
}

func TestIntrospectionDepthLimit(t *testing.T) {
	t.Parallel()
	ofTypes := func(n int) string { // __type at 1, name at the deepest level: n+2 in all
		return nested(append([]string{`__type(name: "Task")`}, append(repeat("ofType", n), "name")...)...)
	}
	for total, want := range map[int]string{15: "", MaxIntrospectionDepth: "", MaxIntrospectionDepth + 1: "DEPTH_LIMIT_EXCEEDED", 30: "DEPTH_LIMIT_EXCEEDED", 200: "DEPTH_LIMIT_EXCEEDED"} {
		q := ofTypes(total - 2)
		if s := unbounded.measure(parse(t, q)); s.introspectionDepth != total || s.depth != 0 {
			t.Fatalf("%d deep measured as %+v", total, s)
		}
		if got := refusal(served, parse(t, q)); got != want {
			t.Errorf("introspection %d deep: %q, want %q", total, got, want)
		}
	}
	// Deep through __schema and fragments, as the standard queries nest.
	q := `{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...R } } }
		fragment R on __Type { ` + strings.TrimPrefix(nested(append(repeat("ofType", 30), "name")...), "{ ")
	if got := refusal(served, parse(t, q)); got != "DEPTH_LIMIT_EXCEEDED" {
		t.Errorf("34 deep through fragments: %q", got)
	}
}

func TestIntrospectionFieldLimit(t *testing.T) {
	t.Parallel()
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ __schema {")
		for i := range n {
			fmt.Fprintf(&b, " t%d: types { name }", i)
		}
		b.WriteString(" } }")
		return b.String()
	}
	// 1 + 2n fields.
	if got := refusal(served, parse(t, aliases((MaxIntrospectionFields-1)/2))); got != "" {
		t.Errorf("%d fields: %q", MaxIntrospectionFields, got)
	}
	if got := refusal(served, parse(t, aliases(MaxIntrospectionFields/2+1))); got != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("%d fields: %q", MaxIntrospectionFields+2, got)
	}

	// Each fragment spreads the next one twice: 2^40 fields if expanded, and the walk stops at the
	// first field past the limit.
	var b strings.Builder
	b.WriteString("{ __schema { types { ...F0 } } }\n")
	for i := range 40 {
		fmt.Fprintf(&b, "fragment F%d on __Type { name ...F%d ...F%d }\n", i, i+1, i+1)
	}
	b.WriteString("fragment F40 on __Type { name }\n")
	set := parse(t, b.String())
	if s := served.measure(set); s.introspectionFields != MaxIntrospectionFields+1 {
		t.Errorf("walk went on to %d fields", s.introspectionFields)
	}
	if got := refusal(served, set); got != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("2^40 fields: %q", got)
	}
}

func TestIntrospectionDisabled(t *testing.T) {
	t.Parallel()
	off := served
	off.introspection = false
	for q, want := range map[string]string{
		`{ __schema { queryType { name } } }`:                                       "INTROSPECTION_DISABLED",
		`{ me { id } __type(name: "Task") { name } }`:                               "INTROSPECTION_DISABLED",
		`{ ...F } fragment F on Query { ... on Query { __schema { __typename } } }`: "INTROSPECTION_DISABLED",
		`{ __typename me { __typename id } }`:                                       "",
	} {
		if got := refusal(off, parse(t, q)); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}
}

// The standard queries, as the tools send them (testdata/introspection), pass the limits with
// room to spare; MaxIntrospectionDepth and MaxIntrospectionFields are documented from these.
func TestStandardIntrospectionQueriesShape(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/introspection/*.graphql")
	if len(files) < 5 {
		t.Fatalf("testdata: %v", files)
	}
	for _, f := range files {
		q, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := unbounded.measure(parse(t, string(q)))
		t.Logf("%s: %+v", filepath.Base(f), s)
		if !s.introspects || s.depth != 0 || s.introspectionDepth != 15 || s.introspectionFields > 230 {
			t.Errorf("%s: %+v", f, s)
		}
		if got := refusal(served, parse(t, string(q))); got != "" {
			t.Errorf("%s refused: %s", f, got)
		}
	}
}
