package graph_test

import (
	"fmt"
	"strings"
)

// The attacks of issue 9, item 1, as documents: each needs no token (only __typename), so an
// anonymous client can send it.

// fragmentExplosion is a document of levels fragments on Query where each spreads the next one
// twice: about 40 bytes a level, 2^levels selections if expanded.
func fragmentExplosion(levels int) string {
	var b strings.Builder
	b.WriteString("query Explode { ...F0 }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Query { __typename ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", levels)
	return b.String()
}

// repeatedField selects __typename n times in one selection set: validation compares every pair.
func repeatedField(n int) string {
	return "{" + strings.Repeat(" __typename", n) + " }"
}

// repeatedDirective puts n @skip directives on one field: one error per repetition.
func repeatedDirective(n int) string {
	return "{ __typename" + strings.Repeat(" @skip(if: false)", n) + " }"
}

// distinctAliases is a valid document of about size bytes: __typename under distinct aliases,
// which validation passes in linear time and gqlgen's query cache keeps.
func distinctAliases(size int, salt string) string {
	var b strings.Builder
	b.Grow(size + 32)
	b.WriteString("{")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, " %s%d: __typename", salt, i)
	}
	b.WriteString(" }")
	return b.String()
}

// aliasedPages asks for n aliases of tasks(first: 100) with the given selection of each node.
func aliasedPages(n int, node string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " p%d: tasks(first: 100) { nodes { %s } }", i, node)
	}
	b.WriteString(" }")
	return b.String()
}
