package codeshape

import (
	"go/types"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// fileEdges are, for each non-test file of a package, the other files of it whose declarations
// it uses (functions, types, variables, constants, methods and fields), resolved by the type
// checker.
func fileEdges(t *testing.T, pattern string) map[string]map[string]bool {
	t.Helper()
	cfg := &packages.Config{Dir: root, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
		packages.NeedTypes | packages.NeedTypesInfo}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil || len(pkgs) != 1 || len(pkgs[0].Errors) > 0 {
		t.Fatalf("loading %s: %v %v", pattern, err, pkgs)
	}
	p := pkgs[0]
	edges := map[string]map[string]bool{}
	for id, obj := range p.TypesInfo.Uses {
		if obj.Pkg() != p.Types || !declaredAtTop(obj, p.Types.Scope()) {
			continue
		}
		from := filepath.Base(p.Fset.Position(id.Pos()).Filename)
		to := filepath.Base(p.Fset.Position(obj.Pos()).Filename)
		if from == to || strings.HasSuffix(from, "_test.go") || strings.HasSuffix(to, "_test.go") {
			continue
		}
		if edges[from] == nil {
			edges[from] = map[string]bool{}
		}
		edges[from][to] = true
	}
	if len(edges) < 3 {
		t.Fatalf("%s: only %d files use another; the loader found less than it should", pattern, len(edges))
	}
	return edges
}

// declaredAtTop is a package-level declaration, a method or a struct field (not a local).
func declaredAtTop(obj types.Object, pkg *types.Scope) bool {
	switch o := obj.(type) {
	case *types.Func:
		return o.Type().(*types.Signature).Recv() != nil || o.Parent() == pkg
	case *types.Var:
		return o.IsField() || o.Parent() == pkg
	}
	return obj.Parent() == pkg
}

// loops are the sets of files that reach one another through their uses (Tarjan's strongly
// connected components of more than one file).
func loops(edges map[string]map[string]bool) [][]string {
	index, low, on := map[string]int{}, map[string]int{}, map[string]bool{}
	var stack []string
	var out [][]string
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = len(index), len(index)
		stack, on[v] = append(stack, v), true
		for w := range edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var c []string
		for w := ""; w != v; {
			w, stack = stack[len(stack)-1], stack[:len(stack)-1]
			on[w] = false
			c = append(c, w)
		}
		if len(c) > 1 {
			sort.Strings(c)
			out = append(out, c)
		}
	}
	for v := range edges {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

// Package main's files, and db's, use one another one way only: start-up reads top-down, and no
// file is called back by the files it calls.
func TestFilesUseEachOtherOneWay(t *testing.T) {
	for _, pattern := range []string{".", "./db"} {
		for _, loop := range loops(fileEdges(t, pattern)) {
			t.Errorf("%s: these files use one another in a loop: %s", pattern, strings.Join(loop, ", "))
		}
	}
}

// The check finds a loop where there is one.
func TestLoopsFindsALoop(t *testing.T) {
	got := loops(map[string]map[string]bool{"a.go": {"b.go": true}, "b.go": {"c.go": true}, "c.go": {"a.go": true}, "d.go": {"a.go": true}})
	if len(got) != 1 || strings.Join(got[0], " ") != "a.go b.go c.go" {
		t.Fatalf("loops = %v, want [[a.go b.go c.go]]", got)
	}
}
