package graph

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// generated.go is gqlgen's output as gqlgen writes it: `go generate ./graph` runs gqlgen and
// nothing after it (issue 23 removed a gofmt -r rewrite of its list marshalling). `make
// generate-check` compares the committed files with a fresh generation.
func TestGenerateRunsOnlyGqlgen(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var directives []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for sc := bufio.NewScanner(bytes.NewReader(src)); sc.Scan(); {
			if d, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
				directives = append(directives, f+": "+d)
			}
		}
	}
	if want := []string{"resolver.go: go tool gqlgen generate"}; !slices.Equal(directives, want) {
		t.Errorf("go:generate directives %q, want %q", directives, want)
	}
}

// Lists marshal through gqlgen's graphql.MarshalSliceConcurrently (a goroutine per element). What
// responses rely on: elements come out in order, each with its index in its field context, and
// one that panics is null with its error on its path.
func TestListElementsMarshalInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(_ context.Context, r any) error { return fmt.Errorf("recovered: %v", r) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{}})
	arr := graphql.MarshalSliceConcurrently(ctx, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
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
