package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// A disabled introspection answers like a validation failure (HTTP 422); depth and complexity
// refusals answer 200, as gqlgen answers its own complexity limit (see internal/apierr).
func init() { errcode.RegisterErrorType(apierr.IntrospectionDisabled, errcode.KindProtocol) }

// operationLimits refuses, before anything runs, an operation that introspects where introspection
// is off, nests data fields deeper than maxDepth, or whose __schema/__type selections nest deeper
// than maxIntrospectionDepth or select more than maxIntrospectionFields fields.
//
// Depth is counted on the data fields a client can nest; __typename costs nothing and is not
// counted, and introspection is measured on its own: the standard introspection queries nest 15
// deep (getIntrospectionQuery's nine ofType levels) while no data path of this schema is deeper
// than 5. gqlgen's complexity limit skips __schema entirely, so the field count is what bounds an
// introspection's breadth (aliases); gqlparser's MaxIntrospectionDepth rule already bounds the
// nesting of its list fields (fields, inputFields, interfaces, possibleTypes) to two levels.
//
// The walk expands fragments where they are spread, and counts every selection it visits against
// maxSelections, so it ends after that many steps however fragments nest (2^n selections for n
// fragments that each spread the next twice). documentLimits has refused a document with more
// before it was validated, so in the served stack the count is a backstop.
type operationLimits struct {
	introspection          bool
	maxDepth               int
	maxIntrospectionDepth  int
	maxIntrospectionFields int
	maxSelections          int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil // gqlgen answers an unknown operation name itself
	}
	return l.check(op.SelectionSet)
}

// check measures set and returns the refusal, or nil.
func (l operationLimits) check(set ast.SelectionSet) *gqlerror.Error {
	s := l.measure(set)
	var err *gqlerror.Error
	switch {
	case s.visits > l.maxSelections:
		err = gqlerror.Errorf("the operation has more than %d selections with its fragments expanded", l.maxSelections)
		errcode.Set(err, apierr.SelectionLimitExceeded)
	case s.introspects && !l.introspection:
		err = gqlerror.Errorf("introspection is disabled on this server (__schema and __type); the schema is published as schema.graphqls")
		errcode.Set(err, apierr.IntrospectionDisabled)
	case s.depth > l.maxDepth:
		err = gqlerror.Errorf("operation is nested deeper than %d fields", l.maxDepth)
		errcode.Set(err, apierr.DepthLimitExceeded)
	case s.introspectionDepth > l.maxIntrospectionDepth:
		err = gqlerror.Errorf("introspection is nested deeper than %d fields", l.maxIntrospectionDepth)
		errcode.Set(err, apierr.DepthLimitExceeded)
	case s.introspectionFields > l.maxIntrospectionFields:
		err = gqlerror.Errorf("introspection selects more than %d fields", l.maxIntrospectionFields)
		errcode.Set(err, apierr.ComplexityLimitExceeded)
	}
	return err
}

// shape is what the limits need to know of an operation; a walk stops as soon as one is passed,
// so the numbers are exact only up to the first limit they pass.
type shape struct {
	depth               int  // deepest nesting of data fields (a lone top-level field is 1)
	introspects         bool // selects __schema or __type
	introspectionDepth  int  // deepest nesting under __schema/__type, the root field being 1
	introspectionFields int  // fields selected under __schema/__type, the root fields counted, fragments expanded
	visits              int  // selections visited, fragments expanded
}

func (l operationLimits) measure(set ast.SelectionSet) shape {
	d := depthVisitor{limits: l}
	w := selectionWalk[depthAt]{enter: d.enter}
	w.walk(set, depthAt{})
	return d.shape
}

type depthVisitor struct {
	limits operationLimits
	shape
}

// depthAt is where a selection sits: its level (the fields above it), and whether it is under
// __schema/__type.
type depthAt struct {
	level         int
	introspection bool
}

func (d *depthVisitor) passed() bool {
	return d.visits > d.limits.maxSelections ||
		(d.introspects && !d.limits.introspection) ||
		d.depth > d.limits.maxDepth ||
		d.introspectionDepth > d.limits.maxIntrospectionDepth ||
		d.introspectionFields > d.limits.maxIntrospectionFields
}

// enter counts sel where it sits; fragments add no level. Under __schema/__type every field
// counts, so the walk ends after at most maxIntrospectionFields fields however fragments repeat.
func (d *depthVisitor) enter(sel ast.Selection, at depthAt) (depthAt, step) {
	if d.passed() {
		return at, stopWalk
	}
	d.visits++
	f, ok := sel.(*ast.Field)
	switch {
	case !ok:
		return at, walkBelow
	case at.introspection:
		return d.introspectionField(at.level), walkBelow
	case f.Name == "__typename":
		return at, skipBelow
	case f.Name == "__schema" || f.Name == "__type":
		// The root of an introspection, visited again as its first field.
		d.introspects = true
		if d.passed() {
			return at, stopWalk
		}
		d.visits++
		return d.introspectionField(0), walkBelow
	}
	d.depth = max(d.depth, at.level+1)
	return depthAt{level: at.level + 1}, walkBelow
}

// introspectionField counts a field under __schema/__type (or one of them) at level, and returns
// where its selections sit.
func (d *depthVisitor) introspectionField(level int) depthAt {
	d.introspectionFields++
	d.introspectionDepth = max(d.introspectionDepth, level+1)
	return depthAt{level: level + 1, introspection: true}
}
