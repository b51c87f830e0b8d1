package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// SDL is the schema the server executes, exactly as written in schema.graphqls (directives such
// as @auth and descriptions included): gqlgen compiles the file's text into the generated code,
// and a test checks that the two have not drifted apart.
func SDL() string {
	var b strings.Builder
	for _, s := range sources {
		if !s.BuiltIn {
			b.WriteString(s.Input)
		}
	}
	return b.String()
}

// SDLHandler serves SDL() for GET /graphql/schema.graphql, where introspection is enabled: what a
// frontend in its own repository points GraphQL Code Generator (or any SDL tool) at. Revalidated
// with an ETag, so tools polling it get 304s.
func SDLHandler() http.Handler {
	sdl := []byte(SDL())
	sum := sha256.Sum256(sdl)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "schema.graphql", time.Time{}, bytes.NewReader(sdl))
	})
}
