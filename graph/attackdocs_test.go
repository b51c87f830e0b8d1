package graph_test

import (
	"fmt"
	"strings"

	"github.com/taskgraph/taskgraph/auth"
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

// nestedRepeats selects outer × me { id × inner }: validation compares every pair of me and,
// for each, every pair of their ids.
func nestedRepeats(outer, inner int) string {
	return "{" + strings.Repeat(" me {"+strings.Repeat(" id", inner)+" }", outer) + " }"
}

// seedTagged gives u tasks tasks and tags tags, every tag on every task, in SQL: past the limits
// the API enforces, as data written before them may be.
func (e *env) seedTagged(u auth.User, tasks, tags int) {
	e.t.Helper()
	tx := e.x.MustBegin()
	defer func() { _ = tx.Rollback() }()
	tx.MustExec(`SELECT set_config('app.user_uuid', $1, true)`, u.UUID.String())
	tx.MustExec(`INSERT INTO tags (user_uuid, name, created_at) SELECT $1, 'tag ' || g, now() FROM generate_series(1, $2::int) g`, u.UUID, tags)
	tx.MustExec(`INSERT INTO tasks (user_uuid, title, created_at, updated_at) SELECT $1, 'task ' || g, now(), now() FROM generate_series(1, $2::int) g`, u.UUID, tasks)
	tx.MustExec(`INSERT INTO task_tags SELECT $1, t.id, g.id FROM tasks t, tags g WHERE t.user_uuid = $1 AND g.user_uuid = $1`, u.UUID)
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}
