package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestSelectionDepth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query string
		want  int
	}{
		{`{ a }`, 1},
		{`{ a { b { c } } d }`, 3},
		{`{ a { ... on T { b { c { d } } } } }`, 4},
		{`{ a { b { c { d { e { f { g { h { i { j { k { l } } } } } } } } } } } }`, 12},
	}
	for _, tc := range cases {
		doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
		if err != nil {
			t.Fatal(err)
		}
		if got := selectionDepth(doc.Operations[0].SelectionSet, 0, 100); got != tc.want {
			t.Errorf("depth of %s = %d, want %d", tc.query, got, tc.want)
		}
	}
}
