package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/vektah/gqlparser/v2/ast"
)

// Bounds of the parsed-query cache (README.md, Limits).
const (
	QueryCacheEntries = 1000
	// QueryCacheBytes bounds what the cached documents retain, by documentBytes' estimate: a
	// typical operation retains 5–25 KB, the standard introspection query 23 KB.
	QueryCacheBytes = 32 << 20
	// A document estimated over QueryCacheBytes/maxDocumentShare is not kept (it would push out
	// many others); it is parsed and validated again when it comes back.
	maxDocumentShare = 16
)

// queryCache is gqlgen's parsed-query cache, bounded by entries and by bytes. gqlgen adds a
// document, keyed by its text, only once it has passed validation; the limits checked before
// validation (documentLimits) ask whether a text is here to skip measuring it again. Automatic
// persisted queries look their hashes up here too (persistedQueries), so they share the bound
// and only ever resolve to a document that passed validation.
type queryCache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, cachedDocument]
	bytes    int // the estimates of the documents held
	maxBytes int
	byHash   map[string]string // sha256 (hex) of a held text → the text
}

type cachedDocument struct {
	doc   *ast.QueryDocument
	bytes int
	hash  string
}

var _ graphql.Cache[*ast.QueryDocument] = (*queryCache)(nil)

func newQueryCache(entries, maxBytes int) *queryCache {
	c := &queryCache{maxBytes: maxBytes, byHash: map[string]string{}}
	lru, err := simplelru.NewLRU(entries, func(_ string, d cachedDocument) {
		c.bytes -= d.bytes
		delete(c.byHash, d.hash)
	})
	if err != nil {
		panic("graph: query cache: " + err.Error()) // only for entries <= 0
	}
	c.lru = lru
	return c
}

func (c *queryCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.lru.Get(query)
	return d.doc, ok
}

// Add keeps a validated document, evicting the least recently used until the bytes fit.
func (c *queryCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	n := documentBytes(query, doc)
	if n > c.maxBytes/maxDocumentShare {
		return
	}
	sum := sha256.Sum256([]byte(query))
	d := cachedDocument{doc: doc, bytes: n, hash: hex.EncodeToString(sum[:])}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(query) // re-added: counted once
	c.lru.Add(query, d)
	c.bytes += n
	c.byHash[d.hash] = query
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// has reports whether query is held, without making it more recent.
func (c *queryCache) has(query string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Contains(query)
}

// retained is the estimate of what the held documents retain, and how many there are.
func (c *queryCache) retained() (bytes, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.lru.Len()
}

// persistedQueries is the store of gqlgen's AutomaticPersistedQuery extension, a view of the
// query cache by hash: Get answers only for a document that is held (so validated), and Add
// keeps nothing, since the text it is given has not been validated yet; once it has, the query
// cache indexes its hash.
type persistedQueries struct{ c *queryCache }

var _ graphql.Cache[string] = persistedQueries{}

func (p persistedQueries) Get(_ context.Context, hash string) (string, bool) {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	q, ok := p.c.byHash[hash]
	return q, ok
}

func (persistedQueries) Add(context.Context, string, string) {}

// nodeBytes is what one node of a parsed and validated document retains at most, its text
// aside: measured at about 410 bytes for a field (with its position and the definitions
// validation links), 110 for a value (TestDocumentBytesIsConservative).
const nodeBytes = 512

// documentBytes estimates, conservatively, the memory a parsed document retains: its text twice
// (the AST points into it; a string value with escapes is a copy; a large allocation is rounded
// up to whole pages) and nodeBytes per node.
func documentBytes(query string, doc *ast.QueryDocument) int {
	return 2*len(query) + nodeBytes*countNodes(doc)
}

// countNodes counts the operations, fragments, variables, selections, arguments, values,
// directives and comments of doc.
func countNodes(doc *ast.QueryDocument) int {
	var c nodeCounter
	for _, op := range doc.Operations {
		c.n++
		c.comments(op.Comment)
		for _, v := range op.VariableDefinitions {
			c.n++
			c.comments(v.Comment)
			c.value(v.DefaultValue)
			c.directives(v.Directives)
		}
		c.directives(op.Directives)
		walkOnce(op.SelectionSet, c.selection)
	}
	for _, f := range doc.Fragments {
		c.n++
		c.comments(f.Comment)
		c.directives(f.Directives)
		walkOnce(f.SelectionSet, c.selection)
	}
	return c.n
}

// nodeCounter counts the nodes of a document as written: fragments are counted where they are
// defined, not where they are spread.
type nodeCounter struct{ n int }

func (c *nodeCounter) selection(sel ast.Selection) step {
	c.n++
	switch s := sel.(type) {
	case *ast.Field:
		c.comments(s.Comment)
		c.arguments(s.Arguments)
		c.directives(s.Directives)
	case *ast.InlineFragment:
		c.comments(s.Comment)
		c.directives(s.Directives)
	case *ast.FragmentSpread:
		c.comments(s.Comment)
		c.directives(s.Directives)
		return skipBelow
	}
	return walkBelow
}

func (c *nodeCounter) comments(g *ast.CommentGroup) {
	if g != nil {
		c.n += len(g.List)
	}
}

func (c *nodeCounter) value(v *ast.Value) {
	if v == nil {
		return
	}
	c.n++
	c.comments(v.Comment)
	for _, child := range v.Children {
		c.n++
		c.value(child.Value)
	}
}

func (c *nodeCounter) arguments(args ast.ArgumentList) {
	for _, a := range args {
		c.n++
		c.comments(a.Comment)
		c.value(a.Value)
	}
}

func (c *nodeCounter) directives(ds ast.DirectiveList) {
	for _, d := range ds {
		c.n++
		c.arguments(d.Arguments)
	}
}
