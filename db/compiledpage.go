package db

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// CompiledPage is one page of a task list as parts of a larger statement, for the compiled read
// path (graph/compile*.go), which builds the whole response in one statement: the same walk,
// filter and search as ListTasks, so both executors read the same rows.
type CompiledPage struct {
	// Rows selects the page's rows (the columns of tasks, as t.*), up to Limit+1 (the extra row
	// tells whether there is more), in the walk's order, which Order (over the alias t) gives.
	Rows, Order string
	// Args are the parameters of Rows, numbered from the first parameter given to CompilePage.
	Args []any
	// Bind is the binding every cursor of the page carries (see cursor).
	Bind string
}

// CompilePage plans tq for user as ListTasks does, with its parameters numbered from first ($first
// is the first one it uses). A malformed or foreign cursor is ErrInvalidCursor.
func CompilePage(user uuid.UUID, tq TaskQuery, first int) (CompiledPage, error) {
	w, bind, err := planWalk(user, tq)
	if err != nil {
		return CompiledPage{}, err
	}
	p := CompiledPage{Order: w.order(), Bind: bind}
	next := first
	// Each segment is a statement of its own, numbered from $1: renumber it into the larger one.
	add := func(stmt string, args []any) string {
		stmt = renumber(stmt, next-1)
		p.Args = append(p.Args, args...)
		next += len(args)
		return stmt
	}
	var parts []string
	for _, seg := range segments(w) {
		stmt, args := seg.statement(user, tq.Filter, tq.Limit+1, false)
		parts = append(parts, "("+add(stmt, args)+")")
	}
	// Each segment is one range of the walk's order, so ordering their union by it is walking them
	// one after the other (at most 2 × (Limit+1) rows to sort).
	p.Rows = `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) t ORDER BY ` + p.Order +
		` LIMIT ` + add("$1", []any{tq.Limit + 1})
	return p, nil
}

// CompileCount counts every task of user matching f (totalCount), as ListTasks does, with its
// parameters numbered from first.
func CompileCount(user uuid.UUID, f TaskFilter, first int) (string, []any) {
	var count query
	count.filter(user, f)
	return renumber(`SELECT count(*) FROM tasks t WHERE `+strings.Join(count.where, " AND "), first-1), count.args
}

var parameter = regexp.MustCompile(`\$[0-9]+`)

// renumber adds by to every parameter number of stmt (the data layer's statements hold no other $).
func renumber(stmt string, by int) string {
	if by == 0 {
		return stmt
	}
	return parameter.ReplaceAllStringFunc(stmt, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+by)
	})
}
