package graph

import "github.com/vektah/gqlparser/v2/ast"

// selectionWalk is the one walk of a document's selection sets that every pass measuring or
// inspecting an operation runs on: the limits before validation (limits.go), depth (depth.go),
// complexity (complexity.go), the query cache's accounting (cache.go), the id variables of a
// cached statement (compilecache.go), the selection of a task page (taskquery.go) and @defer
// (incremental.go). Each pass is a visitor: enter, and for complexity leave.
//
// The walk reaches selections in document order. What is below a field is walked in the context
// enter returns for it; inline fragments and fragment spreads add no level of their own, and what
// is below them is walked in the context they were reached in (unless enter changes it). A spread
// is followed to its fragment as validation linked it, or, before validation, by name in
// fragments; a spread into a fragment being expanded (a cycle, which validation refuses) is not
// followed. Fragments are expanded at every spread, as execution does, or with once at their first
// spread only (enough to learn what an operation mentions: linear in the document).
//
// @skip and @include are not applied: every pass bounds or inspects what the document could
// select, whatever the variables.
//
// gqlparser's own walker (validator/core.Walk) does not fit: it writes validation's links into the
// nodes as it goes (a cached document is shared by concurrent requests), walks each fragment
// definition on its own rather than where it is spread, carries no context down and cannot stop.
type selectionWalk[C any] struct {
	// enter is told of each selection the walk reaches, in context at, and says what to do with
	// what is below it: walk it (in context below), skip it, or end the walk.
	enter func(sel ast.Selection, at C) (below C, next step)
	// leave, if set, is told of a selection enter let the walk go below, once it has.
	leave func(sel ast.Selection, at C)
	// fragments are the document's fragments by name, for spreads validation has not linked
	// (nil: only linked spreads are followed).
	fragments map[string]*ast.FragmentDefinition
	once      bool

	open     map[string]bool // fragments being expanded
	expanded map[string]bool // fragments expanded so far
}

// step is what a walk does with what is below a selection.
type step int

const (
	walkBelow step = iota
	skipBelow
	stopWalk
)

// byName indexes doc's fragments by name (the last of a name wins; validation refuses two).
func byName(doc *ast.QueryDocument) map[string]*ast.FragmentDefinition {
	m := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		m[f.Name] = f
	}
	return m
}

// walk walks set in context at; it reports false if enter ended the walk.
func (w *selectionWalk[C]) walk(set ast.SelectionSet, at C) bool {
	for _, sel := range set {
		below, next := w.enter(sel, at)
		switch {
		case next == stopWalk:
			return false
		case next == skipBelow:
			continue
		case !w.below(sel, below):
			return false
		}
		if w.leave != nil {
			w.leave(sel, at)
		}
	}
	return true
}

// below walks what is below sel in context at.
func (w *selectionWalk[C]) below(sel ast.Selection, at C) bool {
	switch s := sel.(type) {
	case *ast.Field:
		return w.walk(s.SelectionSet, at)
	case *ast.InlineFragment:
		return w.walk(s.SelectionSet, at)
	case *ast.FragmentSpread:
		f := w.fragment(s)
		if f == nil || w.open[s.Name] || (w.once && w.expanded[s.Name]) {
			return true
		}
		if w.open == nil {
			w.open, w.expanded = map[string]bool{}, map[string]bool{}
		}
		w.open[s.Name], w.expanded[s.Name] = true, true
		defer delete(w.open, s.Name)
		return w.walk(f.SelectionSet, at)
	}
	return true
}

// fragment is the fragment s spreads, or nil if there is none.
func (w *selectionWalk[C]) fragment(s *ast.FragmentSpread) *ast.FragmentDefinition {
	if s.Definition != nil {
		return s.Definition
	}
	return w.fragments[s.Name]
}

// walkOnce walks set with enter, in no context, each fragment expanded at its first spread where
// validation linked it, and reports false if enter ended the walk.
func walkOnce(set ast.SelectionSet, enter func(ast.Selection) step) bool {
	w := selectionWalk[struct{}]{
		enter: func(sel ast.Selection, _ struct{}) (struct{}, step) { return struct{}{}, enter(sel) },
		once:  true,
	}
	return w.walk(set, struct{}{})
}
