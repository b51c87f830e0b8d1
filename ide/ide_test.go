package ide_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/ide"
)

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

var devConfig = ide.Config{
	Endpoint:  "/graphql",
	Headers:   map[string]string{"Authorization": "Bearer dev.token.value"},
	Document:  ide.StarterDocument,
	Variables: ide.StarterVariables,
}

// assetsOf returns the asset paths the page references (script and stylesheet).
func assetsOf(t *testing.T, page string) []string {
	t.Helper()
	refs := regexp.MustCompile(`(?:src|href)="(/ide/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the page references %d assets:\n%s", len(refs), page)
	}
	var out []string
	for _, r := range refs {
		out = append(out, r[1])
	}
	return out
}

func TestPage(t *testing.T) {
	t.Parallel()
	rec := get(t, ide.Handler(devConfig), "/")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %v", rec.Code, rec.Header())
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "worker-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(strings.SplitN(strings.SplitN(csp, "script-src", 2)[1], ";", 2)[0], "unsafe-inline") {
		t.Errorf("CSP allows inline or eval'd script: %q", csp)
	}
	if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", rec.Header())
	}
	page := rec.Body.String()
	// No inline script: every <script> has a src, and nothing refers to another host.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, `src="/ide/assets/`) {
			t.Errorf("inline or foreign script: %s", tag)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "dev.token.value") {
		t.Errorf("the page refers to another origin or carries the token:\n%s", page)
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	h := ide.Handler(devConfig)
	page := get(t, h, "/").Body.String()
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, a := range assetsOf(t, page) {
		rec := get(t, h, a)
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", a, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != types[path.Ext(a)] {
			t.Errorf("%s: Content-Type %q", a, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", a, cc)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no CSP (workers take theirs from their own response)", a)
		}
	}
	// Every file of dist/assets is served with a known type: a new kind of file fails here
	// rather than as a 404 in the browser.
	entries, err := os.ReadDir("dist/assets")
	if err != nil || len(entries) < 5 {
		t.Fatalf("dist/assets: %d files, %v", len(entries), err)
	}
	for _, e := range entries {
		rec := get(t, h, "/ide/assets/"+e.Name())
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") == "" {
			t.Errorf("%s: %d %q", e.Name(), rec.Code, rec.Header().Get("Content-Type"))
		}
		if !regexp.MustCompile(`-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`).MatchString(e.Name()) {
			t.Errorf("%s: no content hash in the name, so it cannot be cached as immutable", e.Name())
		}
	}
	for _, p := range []string{"/ide/assets/nope.js", "/ide/assets/", "/ide/index.html", "/ide/", "/other", "/ide/assets/../index.html"} {
		if rec := get(t, h, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	type config struct{ Endpoint, Headers, Query, Variables string }
	read := func(h http.Handler) (config, *httptest.ResponseRecorder) {
		rec := get(t, h, "/ide/config.json")
		var c config
		if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
			t.Fatalf("config.json: %v: %s", err, rec.Body)
		}
		return c, rec
	}
	dev, rec := read(ide.Handler(devConfig))
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("config.json headers: %v", rec.Header())
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(dev.Headers), &headers); err != nil || headers["Authorization"] != "Bearer dev.token.value" {
		t.Errorf("dev headers: %q", dev.Headers)
	}
	if dev.Endpoint != "/graphql" || dev.Query != ide.StarterDocument || dev.Variables != ide.StarterVariables {
		t.Errorf("dev config: %+v", dev)
	}

	serve := devConfig
	serve.Headers = nil
	got, rec := read(ide.Handler(serve))
	if got.Headers != "" || strings.Contains(rec.Body.String(), "Bearer") {
		t.Errorf("a config without headers carries some: %s", rec.Body)
	}
}

// The starter document is valid against the schema, and its variables fit its operations.
func TestStarterDocumentValidates(t *testing.T) {
	t.Parallel()
	sdl, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema := gqlparser.MustLoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(sdl)})
	doc, errs := gqlparser.LoadQuery(schema, ide.StarterDocument)
	if errs != nil {
		t.Fatalf("starter document: %v", errs)
	}
	names := map[string]bool{}
	for _, op := range doc.Operations {
		names[op.Name] = true
	}
	for _, want := range []string{"Tasks", "CreateTask", "UpdateTask", "Tags", "CreateTag"} {
		if !names[want] {
			t.Errorf("no %s operation", want)
		}
	}
	var vars map[string]any
	if err := json.Unmarshal([]byte(ide.StarterVariables), &vars); err != nil {
		t.Fatalf("starter variables: %v", err)
	}
	for _, op := range doc.Operations {
		for _, v := range op.VariableDefinitions {
			if _, ok := vars[v.Variable]; !ok && v.Type.NonNull && v.DefaultValue == nil {
				t.Errorf("%s needs $%s, which the starter variables lack", op.Name, v.Variable)
			}
		}
	}
}

// dist is what the page loads: its index references only files that exist.
func TestDistIsComplete(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal("dist/index.html: run `make ide`")
	}
	for _, a := range assetsOf(t, string(page)) {
		if _, err := fs.Stat(os.DirFS("dist"), strings.TrimPrefix(a, "/ide/")); err != nil {
			t.Errorf("index.html references %s: %v", a, err)
		}
	}
}
