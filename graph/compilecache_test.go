package graph

import (
	"context"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"

	"github.com/taskgraph/taskgraph/db"
)

// A statement is compiled once per (document, operation name, variables) and shared by every
// user: the second user's statement is the first's, with that user in the user's parameters and
// the cursor binding derived from that user. Other variables compile again; an incoming cursor
// is compiled for its user and not kept.
func TestCompiledPlansAreSharedAcrossUsers(t *testing.T) {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}}).(*executableSchema)
	r := compiledReads{es: es, maxTags: DefaultMaxTagsPerUser, plans: newPlanCache()}
	const query = `query P($n: Int!, $after: String, $done: Boolean) {
		tasks(first: $n, after: $after, filter: {completed: $done}) { totalCount edges { cursor node { id } } }
		me { id }
	}`
	doc, errs := gqlparser.LoadQuery(es.Schema(), query)
	if errs != nil {
		t.Fatal(errs)
	}
	compile := func(user uuid.UUID, vars map[string]any) compiled {
		t.Helper()
		oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], OperationName: "P", Variables: vars}
		op, err := r.compile(context.Background(), oc, user, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	alice, bob := uuid.New(), uuid.New()
	vars := map[string]any{"n": int64(5), "done": false}
	a := compile(alice, vars)
	b := compile(bob, map[string]any{"done": false, "n": int64(5)})
	if n := r.plans.compiles.Load(); n != 1 {
		t.Fatalf("%d compiles for one document and one set of variables, want 1", n)
	}
	if a.sql != b.sql || a.key != b.key {
		t.Fatal("the two users' statements differ")
	}
	for name, op := range map[string]compiled{"alice": a, "bob": b} {
		user := map[string]uuid.UUID{"alice": alice, "bob": bob}[name]
		if !slices.Contains(op.args, any(user)) {
			t.Errorf("%s's parameters do not hold %s: %v", name, user, op.args)
		}
		for _, v := range op.args {
			if u, ok := v.(uuid.UUID); ok && u != user {
				t.Errorf("%s's parameters hold another user: %v", name, op.args)
			}
		}
		if len(op.binds) != 1 {
			t.Fatalf("%s: %d cursor bindings, want 1", name, len(op.binds))
		}
		if got, want := op.args[op.binds[0].at], db.CursorBinding(user, op.binds[0].tq); got != want {
			t.Errorf("%s's cursor binding %v, want %v", name, got, want)
		}
	}
	compile(alice, map[string]any{"n": int64(5), "done": true})
	if n := r.plans.compiles.Load(); n != 2 {
		t.Fatalf("other variables: %d compiles, want 2", n)
	}
	// An incoming cursor is compiled for its user (the binding that checks it is hers), and
	// not kept: a malformed one falls back, twice.
	for range 2 {
		oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], OperationName: "P",
			Variables: map[string]any{"n": int64(5), "done": false, "after": "bad"}}
		var fb *fallback
		if _, err := r.compile(context.Background(), oc, alice, 1<<20); !asFallback(err, &fb) {
			t.Fatalf("a malformed cursor: %v, want a fallback", err)
		}
	}
	if n := r.plans.lru.Len(); n != 2 {
		t.Fatalf("%d statements kept, want 2 (none with a cursor)", n)
	}
}

// A variable used only as the id of task or tag fills its parameter per request: one compile
// for every id, and an id that is not a UUID falls back as the compile would. A variable that is
// also used elsewhere stays in the key.
func TestCompiledPlansTakeIDVariablesAsParameters(t *testing.T) {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}}).(*executableSchema)
	r := compiledReads{es: es, maxTags: DefaultMaxTagsPerUser, plans: newPlanCache()}
	compile := func(query string, user uuid.UUID, vars map[string]any) (compiled, error) {
		t.Helper()
		doc, errs := gqlparser.LoadQuery(es.Schema(), query)
		if errs != nil {
			t.Fatal(errs)
		}
		oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars}
		return r.compile(context.Background(), oc, user, 1<<20)
	}
	const byID = `query T($id: ID!, $b: Boolean!) { task(id: $id) { id title @include(if: $b) } ...F } fragment F on Query { tag(id: $id) { id } }`
	alice, bob := uuid.New(), uuid.New()
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for i, id := range ids {
		user := []uuid.UUID{alice, bob, alice}[i]
		op, err := compile(byID, user, map[string]any{"id": id.String(), "b": true})
		if err != nil {
			t.Fatal(err)
		}
		if n := slices.Index(op.args, any(id)); n < 0 || len(op.idSlots) != 2 {
			t.Fatalf("id %d: not in the parameters %v (slots %v)", i, op.args, op.idSlots)
		}
		for _, s := range op.idSlots {
			if op.args[s.at] != any(id) {
				t.Fatalf("id %d: slot %v holds %v", i, s, op.args[s.at])
			}
		}
	}
	if n := r.plans.compiles.Load(); n != 1 {
		t.Fatalf("%d compiles for three ids, want 1", n)
	}
	var fb *fallback
	if _, err := compile(byID, bob, map[string]any{"id": "not-a-uuid", "b": true}); !asFallback(err, &fb) {
		t.Fatalf("an id that is not a UUID: %v, want a fallback", err)
	}
	if _, err := compile(byID, bob, map[string]any{"id": ids[0].String(), "b": false}); err != nil {
		t.Fatal(err)
	}
	if n := r.plans.compiles.Load(); n != 2 {
		t.Fatalf("another @include: %d compiles, want 2", n)
	}
	const alsoTag = `query U($id: ID!) { task(id: $id) { id } tasks(filter: {tagIds: [$id]}) { nodes { id } } }`
	for _, id := range ids[:2] {
		if _, err := compile(alsoTag, alice, map[string]any{"id": id.String()}); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.plans.compiles.Load(); n != 4 {
		t.Fatalf("a variable also used in a filter: %d compiles, want 4 (one per value)", n)
	}
}
