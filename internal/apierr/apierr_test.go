package apierr_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

func TestWriteIsAGraphQLErrorBody(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "5")
	apierr.Write(rec, http.StatusServiceUnavailable, apierr.AuthUnavailable, "no keys yet", map[string]string{"reason": "unavailable", "code": "IGNORED"})
	want := `{"errors":[{"message":"no keys yet","extensions":{"code":"AUTH_UNAVAILABLE","reason":"unavailable"}}]}` + "\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != want {
		t.Fatalf("got %d %s, want 503 %s", rec.Code, rec.Body, want)
	}
	if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("headers %v", rec.Header())
	}
}

// Codes must list every code constant of apierr.go: the hostile-request test and the fuzz targets
// accept only what it lists, so a code left out would be reported as undocumented, and a code in
// the file but not in the README's table would go unnoticed.
func TestCodesListsEveryConstant(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "apierr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range apierr.Codes() {
		listed[c] = true
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				n++
				if !listed[code] {
					t.Errorf("%s is a code constant but not in Codes()", code)
				}
				if !strings.Contains(string(readme), "`"+code+"`") {
					t.Errorf("%s is not in README.md", code)
				}
			}
		}
	}
	if n != len(apierr.Codes()) {
		t.Errorf("apierr.go has %d code constants, Codes() lists %d", n, len(apierr.Codes()))
	}
}
