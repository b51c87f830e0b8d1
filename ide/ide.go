// Package ide serves GraphiQL from the binary itself: the page and its assets are built from
// web/ (`make ide`, Vite) into dist/, which is committed and embedded, so the IDE needs no network
// and `go build` needs no npm.
//
// The handler answers GET / (the page) and everything under /ide/ (config.json and the hashed
// assets); mount it on both:
//
//	h := ide.Handler(ide.Config{Endpoint: "/graphql", Document: ide.StarterDocument, Variables: ide.StarterVariables})
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET /ide/", h)
package ide

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// StarterDocument is the first tab of a browser that has none saved yet: the main queries and
// mutations of taskgraph's schema (a test validates it against schema.graphqls).
//
//go:embed starter.graphql
var StarterDocument string

// StarterVariables are its variables (JSON).
//
//go:embed starter.json
var StarterVariables string

// Prefix is where config.json and the assets are served (Vite's base in web/vite.config.ts).
const Prefix = "/ide/"

// Config is what the page is given, as /ide/config.json.
type Config struct {
	// Endpoint is the GraphQL endpoint, a path on the same origin (the CSP allows no other).
	Endpoint string
	// Headers are put in the headers editor (dev: the development user's Authorization); nil for
	// none. They are never persisted by the page, so a new token always wins over an old one.
	Headers map[string]string
	// Document and Variables fill the first tab when the browser has no saved tabs.
	Document  string
	Variables string
}

// The page's policy: scripts, workers and connections only from this origin, no inline script.
// Inline styles stay allowed: Monaco and GraphiQL set them from script at run time. Fonts and
// icons come as data: URIs inside the CSS.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the IDE for cfg.
func Handler(cfg Config) http.Handler {
	assets, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; its absence is a build error, not a runtime one
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		panic("ide: dist/index.html is missing: run `make ide`")
	}
	config, err := json.Marshal(pageConfig(cfg))
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		switch p := r.URL.Path; {
		case p == "/":
			// Revalidated on every load, so a new binary's asset names are picked up at once.
			h.Set("Cache-Control", "no-cache")
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
		case p == Prefix+"config.json":
			// Carries the development token: never stored.
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(config)
		case strings.HasPrefix(p, Prefix+"assets/"):
			serveAsset(w, assets, strings.TrimPrefix(p, Prefix))
		default:
			http.NotFound(w, r)
		}
	})
}

// pageConfig is config.json: what web/src/main.tsx reads.
func pageConfig(cfg Config) map[string]string {
	headers := ""
	if len(cfg.Headers) > 0 {
		b, _ := json.MarshalIndent(cfg.Headers, "", "  ")
		headers = string(b)
	}
	return map[string]string{
		"endpoint":  cfg.Endpoint,
		"headers":   headers,
		"query":     cfg.Document,
		"variables": cfg.Variables,
	}
}

// Content types by extension, fixed here rather than taken from the system's mime tables.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".ttf":   "font/ttf",
	".woff2": "font/woff2",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".json":  "application/json",
}

// serveAsset serves a file of dist/assets: its name carries a hash of its content, so it may be
// cached for a year and never revalidated.
func serveAsset(w http.ResponseWriter, assets fs.FS, name string) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok || !fs.ValidPath(name) {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}
