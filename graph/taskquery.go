package graph

import (
	"context"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph/model"
)

// taskQuery validates the arguments of Query.tasks, in this order: the page, the ordering, the
// filter (whose tagIds hold at most maxTags ids). An error names the argument at fault
// (extensions.field).
func taskQuery(page pageArgs, filter *model.TaskFilter, orderBy *model.TaskOrder, maxTags int) (db.TaskQuery, error) {
	if err := page.check(); err != nil {
		return db.TaskQuery{}, err
	}
	q := db.TaskQuery{Order: taskOrder(orderBy)}
	page.window(&q)
	var err error
	q.Filter, err = taskFilter(filter, maxTags)
	return q, err
}

// pageArgs are the Relay arguments of Query.tasks.
type pageArgs struct {
	first, last   *int
	after, before *string
}

// check refuses contradictory or out-of-range page arguments.
func (a pageArgs) check() error {
	switch {
	case a.first != nil && a.last != nil:
		return badInput("last", "give first or last, not both")
	case outsidePage(a.first):
		return badInput("first", "first must be between 0 and %d", maxPage)
	case outsidePage(a.last):
		return badInput("last", "last must be between 0 and %d", maxPage)
	case a.last != nil && a.after != nil:
		return badInput("after", "after goes with first; use before with last")
	case a.last == nil && a.before != nil:
		return badInput("before", "before goes with last; use after with first")
	}
	return nil
}

func outsidePage(n *int) bool { return n != nil && (*n < 0 || *n > maxPage) }

// window sets q's page: the last n rows before `before` when last is given, otherwise the first n
// (defaultFirst unless given) after `after`. Checked arguments only.
func (a pageArgs) window(q *db.TaskQuery) {
	if a.last != nil {
		q.Limit, q.Backward, q.Cursor = *a.last, true, orZero(a.before)
		return
	}
	q.Limit, q.Cursor = defaultFirst, orZero(a.after)
	if a.first != nil {
		q.Limit = *a.first
	}
}

// cursorArgument names the argument that carries q's cursor.
func cursorArgument(q db.TaskQuery) string {
	if q.Backward {
		return "before"
	}
	return "after"
}

var sortFields = map[model.TaskSortField]db.SortField{
	model.TaskSortFieldCreatedAt: db.SortCreatedAt, model.TaskSortFieldUpdatedAt: db.SortUpdatedAt,
	model.TaskSortFieldDueAt: db.SortDueAt, model.TaskSortFieldPriority: db.SortPriority,
	model.TaskSortFieldTitle: db.SortTitle,
}

// taskOrder is the ordering asked for; newest first by default.
func taskOrder(o *model.TaskOrder) db.TaskOrder {
	if o == nil {
		return db.TaskOrder{Field: db.SortCreatedAt, Desc: true}
	}
	return db.TaskOrder{Field: sortFields[o.Field], Desc: o.Direction == model.SortDirectionDesc}
}

// taskFilter validates the filter: tag ids first, then the search text.
func taskFilter(in *model.TaskFilter, maxTags int) (db.TaskFilter, error) {
	if in == nil {
		return db.TaskFilter{}, nil
	}
	tags, err := parseIDs("tagIds", in.TagIds, maxTags)
	if err != nil {
		return db.TaskFilter{}, err
	}
	search, err := searchText(in.Search)
	if err != nil {
		return db.TaskFilter{}, err
	}
	f := db.TaskFilter{
		Completed: in.Completed, TagIDs: tags, AllTags: in.TagMatch != nil && *in.TagMatch == model.TagMatchAll,
		Search: search, DueAfter: in.DueAfter, DueBefore: in.DueBefore,
	}
	for _, p := range in.Priorities {
		f.Priorities = append(f.Priorities, priorities[p])
	}
	return f, nil
}

func searchText(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	if err := text("search", *s); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(*s) > maxSearch {
		return "", badInput("search", "search must be at most %d characters", maxSearch)
	}
	return *s, nil
}

func orZero[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}

// withSelection asks the data layer only for what the tasks connection's selection needs: the
// count when totalCount is selected, the tags when the tasks' tags may be.
func withSelection(ctx context.Context, q *db.TaskQuery) {
	q.WithTotal = selects(ctx, "totalCount")
	q.WithTags = mentions(graphql.GetFieldContext(ctx).Field.Selections, "tags")
}

// selects reports whether the current field's selection includes the field name, so that costly
// fields (totalCount) are computed only when asked for.
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// mentions reports whether a field called name appears anywhere in set, at any depth, through
// fragments and whatever their type conditions or @skip/@include. Task.tags is a plain field
// filled from what the data layer read, so the answer must never be a wrong "no": below a
// TaskConnection only Task has a tags field, and a needless "yes" merely reads the tags anyway.
// Each fragment is walked once, so the walk is linear in the document.
func mentions(set ast.SelectionSet, name string) bool {
	return !walkOnce(set, func(sel ast.Selection) step {
		if f, ok := sel.(*ast.Field); ok && f.Name == name {
			return stopWalk
		}
		return walkBelow
	})
}
