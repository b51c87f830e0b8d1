package graph_test

import (
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"

	"github.com/taskgraph/taskgraph/internal/apierr"
)

// The table in apierr lists gqlgen's own codes too; they must be the ones gqlgen sets.
func TestCodeTableHasGqlgensCodes(t *testing.T) {
	if apierr.ValidationFailed != errcode.ValidationFailed || apierr.ParseFailed != errcode.ParseFailed {
		t.Fatalf("apierr: %s %s, gqlgen: %s %s", apierr.ValidationFailed, apierr.ParseFailed, errcode.ValidationFailed, errcode.ParseFailed)
	}
}
