package graph

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

// TestSharedRenderShape: subscriptions that differ only in the root field's after share a shape;
// any other difference (a variable, the operation, the text) does not.
func TestSharedRenderShape(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	shape := func(query, name string, vars map[string]any) string {
		t.Helper()
		doc, errs := gqlparser.LoadQuery(schema, query)
		if errs != nil {
			t.Fatal(errs)
		}
		op := doc.Operations.ForName(name)
		coerced, err := validator.VariableValues(schema, op, vars)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := responseShape(&graphql.OperationContext{RawQuery: query, OperationName: name, Doc: doc, Operation: op, Variables: coerced})
		if !ok {
			t.Fatal("no shape")
		}
		return s
	}
	const q = `subscription S($after: String, $tags: Boolean!) { taskEvents(after: $after) { id task { tags @include(if: $tags) { id } } } }
		subscription T($after: String, $tags: Boolean!) { ...F } fragment F on Subscription { taskEvents(after: $after) { id task { tags @include(if: $tags) { id } } } }`
	base := shape(q, "S", map[string]any{"tags": true})
	for _, c := range []struct {
		name, query, op string
		vars            map[string]any
		same            bool
	}{
		{"another cursor", q, "S", map[string]any{"tags": true, "after": "AQ"}, true},
		{"yet another cursor", q, "S", map[string]any{"tags": true, "after": "Ag"}, true},
		{"another variable", q, "S", map[string]any{"tags": false}, false},
		{"another operation", q, "T", map[string]any{"tags": true}, false},
		{"another text", q + " ", "S", map[string]any{"tags": true}, false},
	} {
		if got := shape(c.query, c.op, c.vars) == base; got != c.same {
			t.Errorf("%s: same shape %v, want %v", c.name, got, c.same)
		}
	}
	// Through a fragment too.
	if shape(q, "T", map[string]any{"tags": true, "after": "AQ"}) != shape(q, "T", map[string]any{"tags": true}) {
		t.Error("a cursor given in a fragment changed the shape")
	}
}

// TestSubscriptionFieldsTakeNoArguments: responseShape leaves the root field's after variable out
// because nothing below the root can use it. A field with arguments under Subscription would
// break that: responseShape must then look for the variable's other uses.
func TestSubscriptionFieldsTakeNoArguments(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	seen := map[string]bool{}
	var walk func(def *ast.Definition)
	walk = func(def *ast.Definition) {
		if def == nil || seen[def.Name] {
			return
		}
		seen[def.Name] = true
		for _, f := range def.Fields {
			if len(f.Arguments) > 0 && def != schema.Subscription {
				t.Errorf("%s.%s takes arguments: see responseShape (render.go)", def.Name, f.Name)
			}
			walk(schema.Types[f.Type.Name()])
		}
	}
	walk(schema.Subscription)
	if !seen["Task"] || !seen["Tag"] {
		t.Fatalf("walked %v", seen)
	}
}
