package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/db"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// documentBytes is at least what a parsed and validated document retains, measured with the
// runtime's heap statistics over 40 copies of each shape: many fields, aliases, nested
// selections, list values, a long string, comments, the introspection query. (Not parallel: other
// tests' allocations would blur the heap.)
func TestDocumentBytesIsConservative(t *testing.T) {
	intro, err := os.ReadFile("testdata/introspection/graphql-js-all-options.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 2000 {
		fmt.Fprintf(&aliases, " a%d: __typename", i)
	}
	aliases.WriteString(" }")
	ids := strings.TrimSuffix(strings.Repeat(`"00000000-0000-0000-0000-000000000000",`, 1000), ",")
	shapes := map[string]string{
		"fields":        "{" + strings.Repeat(" __typename", 600) + " }",
		"aliases":       aliases.String(),
		"nested":        `{ tasks { edges { node { id title tags { id name color createdAt } } } nodes { id title description completed completedAt priority dueAt createdAt updatedAt } pageInfo { hasNextPage endCursor } } }`,
		"id list":       `{ tasks(filter: {tagIds: [` + ids + `]}) { totalCount } }`,
		"enum list":     `{ tasks(filter: {priorities: [` + strings.Repeat("HIGH,", 3000) + `]}) { totalCount } }`,
		"long string":   `{ tasks(filter: {search: "` + strings.Repeat("x", 50000) + `"}) { totalCount } }`,
		"escapes":       `{ tasks(filter: {search: "` + strings.Repeat(`\n`, 20000) + `"}) { totalCount } }`,
		"comments":      strings.Repeat("#\n", 3000) + "{ me { id } }",
		"introspection": string(intro),
	}
	for name, q := range shapes {
		const copies = 40
		docs := make([]*ast.QueryDocument, copies)
		before := heapInUse()
		for i := range docs {
			docs[i] = validated(t, strings.Clone(q)) // its own text, as each request has
		}
		retained := float64(heapInUse()-before) / copies
		estimate := documentBytes(q, docs[0])
		t.Logf("%-13s %6d bytes of text: retains %8.0f, estimated %8d (%.1f×)", name, len(q), retained, estimate, float64(estimate)/retained)
		if float64(estimate) < retained {
			t.Errorf("%s: estimated %d bytes, retains %.0f", name, estimate, retained)
		}
		runtime.KeepAlive(docs)
	}
}

func TestQueryCacheIsBoundedByBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	doc := func(i int) (string, *ast.QueryDocument) {
		q := fmt.Sprintf("{ a%02d: __typename }", i)
		return q, validated(t, q)
	}
	q0, d0 := doc(0)
	per := documentBytes(q0, d0)
	bound := 16*per + per/2 // sixteen fit
	c := newQueryCache(1000, bound)
	for i := range 30 {
		q, d := doc(i)
		c.Add(ctx, q, d)
		if bytes, _ := c.retained(); bytes > bound {
			t.Fatalf("after %d documents the cache holds %d bytes, over its bound", i+1, bytes)
		}
	}
	bytes, entries := c.retained()
	if entries != 16 || bytes != 16*per {
		t.Fatalf("%d entries, %d bytes; want the 16 most recent, %d bytes", entries, bytes, 16*per)
	}
	if _, ok := c.Get(ctx, q0); ok || !c.has("{ a29: __typename }") {
		t.Fatal("kept the oldest, or lost the newest")
	}
	// Re-adding a held document counts it once.
	q, d := doc(29)
	c.Add(ctx, q, d)
	if b, n := c.retained(); b != bytes || n != entries {
		t.Fatalf("re-adding changed the count: %d bytes, %d entries", b, n)
	}
	// A document over a sixteenth of the bound is not kept at all.
	small := newQueryCache(1000, 15*per)
	small.Add(ctx, q, d)
	if _, n := small.retained(); n != 0 {
		t.Fatal("a document over a sixteenth of the bound was kept")
	}
	// Entries bound it too.
	few := newQueryCache(3, 1<<30)
	for i := range 5 {
		q, d := doc(i)
		few.Add(ctx, q, d)
	}
	if _, n := few.retained(); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
}

// Persisted queries resolve only the hashes of held documents, and forget them with the document.
func TestPersistedQueriesShareTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hash := func(q string) string { s := sha256.Sum256([]byte(q)); return hex.EncodeToString(s[:]) }
	c := newQueryCache(2, 1<<30)
	apq := persistedQueries{c}
	apq.Add(ctx, hash("{ a: __typename }"), "{ a: __typename }") // before validation: not kept
	if _, ok := apq.Get(ctx, hash("{ a: __typename }")); ok {
		t.Fatal("an unvalidated text was kept")
	}
	for _, q := range []string{"{ a: __typename }", "{ b: __typename }"} {
		c.Add(ctx, q, validated(t, q))
	}
	if q, ok := apq.Get(ctx, hash("{ a: __typename }")); !ok || q != "{ a: __typename }" {
		t.Fatalf("held document's hash: %q %v", q, ok)
	}
	c.Add(ctx, "{ c: __typename }", validated(t, "{ c: __typename }")) // evicts a
	if _, ok := apq.Get(ctx, hash("{ a: __typename }")); ok {
		t.Fatal("an evicted document's hash still resolves")
	}
	if len(c.byHash) != 2 {
		t.Fatalf("%d hashes for 2 documents", len(c.byHash))
	}
}

// anonymous posts query without a token to srv and returns the status and the body.
func anonymous(srv http.Handler, query string) (int, string) {
	body, _ := json.Marshal(map[string]string{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// Issue 9's cache attack, as an anonymous client sends it: distinct documents, each kept by the
// parsed-query cache. The 940 KB documents of the issue (19 MB retained each before) are refused
// before they are parsed; documents within the limits are kept up to QueryCacheBytes, and ones
// that fail validation not at all. Measured on the heap. (Not parallel: see
// TestDocumentBytesIsConservative.)
func TestQueryCacheAttackIsBounded(t *testing.T) {
	const bound = 1 << 20
	// The requests are anonymous: their budget is an anonymousShare of QueryCacheBytes.
	srv, split := newServer(db.NewStore(nil), Options{QueryCacheBytes: bound * anonymousShare}) // __typename needs no database
	cache := split.anonymous
	before := heapInUse()
	for i := range 20 {
		var b strings.Builder
		for j := 0; b.Len() < 940_000; j++ {
			fmt.Fprintf(&b, " x%d_%d: __typename", i, j)
		}
		if status, body := anonymous(srv, "{"+b.String()+" }"); status != http.StatusOK || !strings.Contains(body, "DOCUMENT_TOO_LARGE") {
			t.Fatalf("940 KB document: %d %.200s", status, body)
		}
	}
	if grew := int64(heapInUse()) - int64(before); grew > 1<<20 {
		t.Errorf("20 refused 940 KB documents left %d bytes on the heap", grew)
	}
	if _, n := cache.retained(); n != 0 {
		t.Fatalf("refused documents cached: %d", n)
	}

	// 1,000 distinct valid documents of 30 fields each (about 12 KB retained each, 12 MB in all
	// under the old entry-only bound).
	before = heapInUse()
	for i := range 1000 {
		q := fmt.Sprintf("query Q%04d {%s }", i, strings.Repeat(" __typename", 30))
		if status, body := anonymous(srv, q); status != http.StatusOK {
			t.Fatalf("valid document: %d %.200s", status, body)
		}
	}
	held, entries := cache.retained()
	grew := int64(heapInUse()) - int64(before)
	t.Logf("1,000 valid documents: the cache holds %d (estimated %d bytes), the heap grew by %d", entries, held, grew)
	if held > bound || entries == 0 || entries >= 1000 {
		t.Errorf("cache: %d entries, %d bytes, bound %d", entries, held, bound)
	}
	if grew > bound+bound/2 {
		t.Errorf("the heap grew by %d bytes, bound %d", grew, bound)
	}

	// Documents that fail validation are never kept.
	for i := range 100 {
		if status, _ := anonymous(srv, fmt.Sprintf("query R%04d { nope }", i)); status != http.StatusOK {
			t.Fatalf("invalid document answered %d", status)
		}
		if cache.has(fmt.Sprintf("query R%04d { nope }", i)) {
			t.Fatal("an invalid document was cached")
		}
	}
}
