package codeshape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fzipp/gocyclo"
)

// The bounds issue 23 set.
const (
	maxFuncLines       = 50
	maxComplexity      = 15
	maxRootTestLines   = 800
	maxMainFileLines   = 300
	maxReadmeBytes     = 20 << 10
	maxBenchReadmeSize = 30 << 10
)

// root is the module's root: this package sits two folders below it.
var root = filepath.Join("..", "..")

// goFile is one parsed source file of the module, outside node_modules and testdata.
type goFile struct {
	path  string // relative to the module root
	lines int
	test  bool
	ast   *ast.File
	fset  *token.FileSet
}

func parseModule(t *testing.T) []goFile {
	t.Helper()
	var files []goFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, goFile{rel, strings.Count(string(src), "\n"), strings.HasSuffix(name, "_test.go"), f, fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found %d Go files under %s; is the module root where this test thinks?", len(files), root)
	}
	return files
}

// Outside tests and generated code, no function is over 50 lines (from its func line to its
// closing brace) or over cyclomatic complexity 15 (gocyclo's count).
func TestFunctionsAreShortAndSimple(t *testing.T) {
	var stats gocyclo.Stats
	for _, f := range parseModule(t) {
		if f.test || ast.IsGenerated(f.ast) {
			continue
		}
		stats = gocyclo.AnalyzeASTFile(f.ast, f.fset, stats)
		for _, d := range f.ast.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := f.fset.Position(fn.Pos()), f.fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines (at most %d)", f.path, start.Line, fn.Name.Name, n, maxFuncLines)
			}
		}
	}
	for _, s := range stats {
		if s.Complexity > maxComplexity {
			t.Errorf("%s: %s has cyclomatic complexity %d (at most %d)", s.Pos, s.FuncName, s.Complexity, maxComplexity)
		}
	}
}

// Package main wires the packages together; the system tests live in systemtest/. Its test files
// together stay under 800 lines, its largest file under 300, and the whole package smaller than
// graph/ (generated code left out).
func TestPackageMainStaysSmall(t *testing.T) {
	var testLines, mainLines, graphLines int
	for _, f := range parseModule(t) {
		dir := filepath.Dir(f.path)
		switch {
		case dir == "." && f.test:
			testLines += f.lines
		case dir == ".":
			mainLines += f.lines
			if f.lines > maxMainFileLines {
				t.Errorf("%s is %d lines; package main's files stay under %d", f.path, f.lines, maxMainFileLines)
			}
		case dir == "graph" && !f.test && !ast.IsGenerated(f.ast):
			graphLines += f.lines
		}
	}
	if testLines > maxRootTestLines {
		t.Errorf("package main's tests are %d lines (at most %d): system tests belong in systemtest/", testLines, maxRootTestLines)
	}
	if mainLines >= graphLines {
		t.Errorf("package main is %d lines, graph/ %d: main should be the smaller", mainLines, graphLines)
	}
}

func TestReadmesStayShort(t *testing.T) {
	for path, limit := range map[string]int{"README.md": maxReadmeBytes, "bench/README.md": maxBenchReadmeSize} {
		info, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > int64(limit) {
			t.Errorf("%s is %d bytes (at most %d): move detail to docs/ or bench/runs/", path, info.Size(), limit)
		}
	}
}

// namedPath is a backquoted file or folder name in prose: `graph/compile.go`, `db/`, `server.go`.
var namedPath = regexp.MustCompile("`([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*|[A-Za-z0-9_-]+\\.(?:go|md|sql|graphqls|yml|mjs|ts|tsx|sh))`")

// Every path ARCHITECTURE.md names exists, so the map of the house does not drift from it.
func TestArchitectureNamesOnlyPathsThatExist(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	matches := namedPath.FindAllStringSubmatch(string(text), -1)
	if len(matches) < 20 {
		t.Fatalf("ARCHITECTURE.md names %d paths; the pattern no longer finds them", len(matches))
	}
	for _, m := range matches {
		p := m[1]
		if strings.Contains(p, "://") || strings.HasPrefix(p, "api/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			if _, err2 := os.Stat(filepath.Join(root, strings.TrimSuffix(p, "/"))); err2 != nil {
				t.Errorf("ARCHITECTURE.md names %s, which does not exist", p)
			}
		}
	}
}
