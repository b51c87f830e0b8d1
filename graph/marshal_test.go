package graph

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// The generated code marshals lists through marshalListInOrder: a `go generate` that skipped
// the rewrite in resolver.go would bring a goroutine per element back.
func TestGeneratedListsMarshalInOrder(t *testing.T) {
	src, err := os.ReadFile("generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(src, []byte("MarshalSliceConcurrently")); n > 0 {
		t.Errorf("generated.go calls graphql.MarshalSliceConcurrently %d times: run `go generate ./graph` (it rewrites them)", n)
	}
	if bytes.Count(src, []byte("marshalListInOrder(")) == 0 {
		t.Error("generated.go never calls marshalListInOrder: are there no lists any more?")
	}
}

// Elements come out in order, each with its index in its field context, and one that panics is
// null with its error, as with gqlgen's own MarshalSliceConcurrently.
func TestMarshalListInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(_ context.Context, r any) error { return fmt.Errorf("recovered: %v", r) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{}})
	arr := marshalListInOrder(ctx, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if i == 2 {
			panic("element 2")
		}
		idx := *graphql.GetFieldContext(ctx).Index
		return graphql.MarshalString(fmt.Sprint("e", i, "@", idx))
	})
	var b bytes.Buffer
	arr.MarshalGQL(&b)
	if got, want := b.String(), `["e0@0","e1@1",null,"e3@3"]`; got != want {
		t.Errorf("marshalled %s, want %s", got, want)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "recovered: element 2") {
		t.Fatalf("errors %v, want one for element 2", errs)
	}
	if p := errs[0].Path.String(); p != "[2]" {
		t.Errorf("error path %q, want [2]", p)
	}
}
