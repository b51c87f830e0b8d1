package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/apierr"
)

// Limits on a document, checked before gqlgen parses and validates it (README.md, Limits).
// Anonymous requests can only read __typename and, where enabled, introspection, so their budget
// is small: the standard introspection queries are 0.9–2.3 KB and 160–190 tokens.
const (
	MaxDocumentBytes          = 64 << 10
	MaxDocumentTokens         = 5000
	MaxAnonymousDocumentBytes = 8 << 10
	MaxAnonymousTokens        = 1000
	// MaxAliases and MaxDirectives are graphql-armor's defaults (15 and 50), counted once per
	// place they are written.
	MaxAliases    = 15
	MaxDirectives = 50
	// MaxSelections bounds the selections (fields, fragment spreads, inline fragments) of a
	// document counted with fragments expanded where they are spread: a walk of an operation
	// that expands fragments (depth.go's; execution, once per row) then visits at most this
	// many. The standard introspection queries have 223–240.
	MaxSelections = 2000
	// MaxMergePairs bounds the pairs of fields that share a response key at the same place
	// (`{ a a }`, or a field in two fragments spread together): validation compares each pair,
	// so this is what keeps it from being quadratic in the document. Legitimate documents have
	// a handful.
	MaxMergePairs = 500
)

func init() {
	for _, code := range []string{apierr.DocumentTooLarge, apierr.AliasLimitExceeded, apierr.DirectiveLimitExceeded, apierr.SelectionLimitExceeded} {
		// Answered like a document that does not parse: 422 (400 under graphql-response+json).
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// documentBudget is what one caller may send.
type documentBudget struct{ bytes, tokens int }

var (
	signedInBudget  = documentBudget{bytes: MaxDocumentBytes, tokens: MaxDocumentTokens}
	anonymousBudget = documentBudget{bytes: MaxAnonymousDocumentBytes, tokens: MaxAnonymousTokens}
)

// documentLimits refuses a document over its caller's budget before gqlgen parses and validates
// it: bytes, then tokens (a lexer pass that stops at the limit), then, on a parse bounded by the
// token count, aliases, directives, expanded selections and pairs of fields to merge. Each check
// costs at most what the previous one admitted. A document already in the query cache passed
// these checks (gqlgen only caches validated documents), so it is not measured again.
type documentLimits struct {
	cache *splitCache
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" || l.cache.has(ctx, p.Query) {
		return nil // a persisted query's hash alone, or a document measured before
	}
	b := anonymousBudget
	if _, ok := auth.UserFrom(ctx); ok {
		b = signedInBudget
	}
	return b.check(p.Query)
}

// check measures query against b and returns the refusal, or nil. A document that does not
// parse is left to gqlgen, which reports it as it always has.
func (b documentBudget) check(query string) *gqlerror.Error {
	if len(query) > b.bytes {
		return refuse(apierr.DocumentTooLarge, "the document is larger than %d bytes%s", b.bytes, b.hint())
	}
	if tokens(query, b.tokens) > b.tokens {
		return refuse(apierr.DocumentTooLarge, "the document has more than %d tokens%s", b.tokens, b.hint())
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, b.tokens+1)
	if err != nil {
		return nil
	}
	s := measureDocument(doc)
	switch {
	case s.unused != "":
		// Validation refuses it too, but only after comparing its fields pairwise.
		return refuse(apierr.ValidationFailed, "Fragment %q is never used.", s.unused)
	case s.aliases > MaxAliases:
		return refuse(apierr.AliasLimitExceeded, "the document has more than %d aliases", MaxAliases)
	case s.directives > MaxDirectives:
		return refuse(apierr.DirectiveLimitExceeded, "the document has more than %d directives", MaxDirectives)
	case s.selections > MaxSelections:
		return refuse(apierr.SelectionLimitExceeded, "the document has more than %d selections with its fragments expanded", MaxSelections)
	case s.mergePairs > MaxMergePairs:
		return refuse(apierr.SelectionLimitExceeded, "the document selects the same field at the same place too often (more than %d pairs to merge)", MaxMergePairs)
	}
	return nil
}

// hint tells an anonymous client why its budget is small.
func (b documentBudget) hint() string {
	if b == anonymousBudget {
		return " (without a token only __typename and introspection can be read)"
	}
	return ""
}

func refuse(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, code)
	return err
}

// tokens counts the tokens of query (comments included, as the parser counts them), stopping
// once it passes limit. A lexical error ends the count: the parser will report it.
func tokens(query string, limit int) int {
	lex := lexer.New(&ast.Source{Input: query})
	n := 0
	for n <= limit {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		n++
	}
	return n
}

// documentShape is what the limits need to know of a parsed, not yet validated, document.
type documentShape struct {
	aliases, directives int    // as written
	selections          int    // visited with fragments expanded, over all operations; stops past MaxSelections
	mergePairs          int    // pairs of fields with the same response key at the same place; stops past MaxMergePairs
	unused              string // a fragment no operation spreads, if the walk reached its end
}

// measureDocument walks every operation with fragments expanded where they are spread (each
// spread visited counts, so the walk ends after MaxSelections visits however fragments nest),
// and counts aliases and directives where they are written. Validation has not run: spreads are
// resolved by name, a spread of an unknown fragment or into a cycle is not followed (validation
// refuses both). A fragment no operation spreads is named: its fields would be compared by
// validation without being counted here.
func measureDocument(doc *ast.QueryDocument) documentShape {
	v := shapeVisitor{reached: map[string]bool{}, places: map[place]int{}, counts: []int{0}}
	expand := selectionWalk[int]{enter: v.expanded, fragments: byName(doc)}
	for _, f := range doc.Fragments {
		v.directives += len(f.Directives)
		walkOnce(f.SelectionSet, v.written)
	}
	for _, op := range doc.Operations {
		v.directives += len(op.Directives)
		for _, d := range op.VariableDefinitions {
			v.directives += len(d.Directives)
		}
		walkOnce(op.SelectionSet, v.written)
		expand.walk(op.SelectionSet, v.newPlace())
	}
	if v.selections <= MaxSelections && v.mergePairs <= MaxMergePairs { // the walk reached its end
		for _, f := range doc.Fragments {
			if !v.reached[f.Name] {
				v.unused = f.Name
				break
			}
		}
	}
	return v.documentShape
}

// place is where a field's value lands in the response: the place of its parent and its
// response key. Fields at the same place are merged, and validation compares them pairwise.
type place struct {
	parent int
	key    string
}

type shapeVisitor struct {
	documentShape
	reached map[string]bool // fragments spread somewhere
	places  map[place]int   // place → its id, for the fields below it
	counts  []int           // place id → fields merged there so far
}

func (v *shapeVisitor) newPlace() int {
	v.counts = append(v.counts, 0)
	return len(v.counts) - 1
}

// written counts the aliases and directives of a selection as written, fragments not expanded.
func (v *shapeVisitor) written(sel ast.Selection) step {
	switch s := sel.(type) {
	case *ast.Field:
		if s.Alias != s.Name {
			v.aliases++
		}
		v.directives += len(s.Directives)
	case *ast.InlineFragment:
		v.directives += len(s.Directives)
	case *ast.FragmentSpread:
		v.directives += len(s.Directives)
		return skipBelow
	}
	return walkBelow
}

// expanded counts a selection reached with fragments expanded, whose fields land below the place
// parent.
func (v *shapeVisitor) expanded(sel ast.Selection, parent int) (int, step) {
	if v.selections > MaxSelections || v.mergePairs > MaxMergePairs {
		return parent, stopWalk // refused either way
	}
	v.selections++
	switch s := sel.(type) {
	case *ast.Field:
		p := place{parent: parent, key: s.Alias}
		id, seen := v.places[p]
		if !seen {
			id = v.newPlace()
			v.places[p] = id
		}
		v.mergePairs += v.counts[id] // this field is compared with each one already there
		v.counts[id]++
		return id, walkBelow
	case *ast.FragmentSpread:
		v.reached[s.Name] = true
	}
	return parent, walkBelow
}
