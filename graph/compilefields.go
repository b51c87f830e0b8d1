package graph

import (
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/taskgraph/taskgraph/db"
)

// The JSON of each object type's fields, as SQL over the row of its table: a task is t (tasks'
// columns, and its tags' columns: tagColumns), a tag g (tags' columns). Strings are PostgreSQL's to_json, which
// writes them as gqlgen does but for a few control characters (fixEscapes, after the statement).

// timeJSON is a timestamptz as the Time scalar writes it: RFC 3339 in UTC with the fraction's
// trailing zeros dropped (Go's RFC3339Nano), quoted; NULL for NULL. PostgreSQL's JSON timestamps
// are ISO 8601 with that same fraction; the range the data layer keeps (db.MinTime..MaxTime)
// has four-digit years.
func timeJSON(col string) string {
	return `left(to_json(` + col + ` AT TIME ZONE 'UTC')::text, -1) || 'Z"'`
}

// tagColumns are the tags of a CTE's task rows: one lateral read of each task's tags, by name as
// Task.tags lists them (db's tagsColumn), under the same scoping (the user is $1), that
// aggregates them once per Task.tags selection (tj1, tj2, ...: the tags' JSON) and sums their
// charge (tgc).
type tagColumns struct{ aggs []string }

// add is a column of the tags of each row written as tag (over g), comma-separated; its name.
func (tc *tagColumns) add(tag string) string {
	name := "tj" + strconv.Itoa(len(tc.aggs)+1)
	tc.aggs = append(tc.aggs, `string_agg(`+tag+`, ',' ORDER BY lower(g.name), g.id) AS `+name)
	return name
}

// lateral joins the tags of the task row alias.
func (tc *tagColumns) lateral(alias string) string {
	cols := `sum(` + tagCharge + `) AS tgc`
	for _, a := range tc.aggs {
		cols += `, ` + a
	}
	return `LEFT JOIN LATERAL (SELECT ` + cols + ` FROM task_tags tt JOIN tags g ON g.user_uuid = tt.user_uuid AND g.id = tt.tag_id
		WHERE tt.user_uuid = $1 AND tt.task_id = ` + alias + `.id) tg ON true`
}

// The response budget's charge of the resolvers (response.go: chargeTasks, chargeTags) is
// taskOverhead or tagOverhead plus the JSON length of the texts, which is at most 6 bytes per byte
// (a control character written \u00XX): the statement sums that bound, and the compiled response
// is used only when it is within the budget, where the resolvers could not have refused.
const tagCharge = `160 + 6 * octet_length(g.name)`

func taskCharge(withTags bool) string {
	s := `400 + 6 * octet_length(t.title) + 6 * COALESCE(octet_length(t.description), 0)`
	if withTags {
		s += ` + COALESCE(t.tgc, 0)`
	}
	return s
}

func init() {
	if taskOverhead != 400 || tagOverhead != 160 {
		panic("graph: the compiled charge (compilefields.go) must follow taskOverhead and tagOverhead")
	}
}

func (c *compiler) taskField(out *sqlText, f graphql.CollectedField) error {
	switch f.Name {
	case "id":
		out.lit(`"`)
		out.expr(`t.id::text`)
		out.lit(`"`)
	case "title":
		out.expr(`to_json(t.title)::text`)
	case "description":
		out.expr(`COALESCE(to_json(t.description)::text, 'null')`)
	case "completed":
		out.expr(`CASE WHEN t.completed_at IS NULL THEN 'false' ELSE 'true' END`)
	case "completedAt":
		out.expr(`COALESCE(` + timeJSON("t.completed_at") + `, 'null')`)
	case "priority":
		out.expr(`COALESCE((ARRAY['"LOW"', '"MEDIUM"', '"HIGH"', '"URGENT"'])[t.priority], 'null')`)
	case "dueAt":
		out.expr(`COALESCE(` + timeJSON("t.due_at") + `, 'null')`)
	case "createdAt":
		out.expr(timeJSON("t.created_at"))
	case "updatedAt":
		out.expr(timeJSON("t.updated_at"))
	case "tags":
		var tag sqlText
		if err := c.object(&tag, f.Selections, "Tag", c.tagField); err != nil {
			return err
		}
		if c.tagCols == nil {
			return notCompiled("Task.tags outside a task's rows")
		}
		out.lit("[")
		out.expr(`COALESCE(t.` + c.tagCols.add(tag.String()) + `, '')`)
		out.lit("]")
	default:
		return notCompiled("field Task.%s", f.Name)
	}
	return nil
}

func (c *compiler) tagField(out *sqlText, f graphql.CollectedField) error {
	switch f.Name {
	case "id":
		out.lit(`"`)
		out.expr(`g.id::text`)
		out.lit(`"`)
	case "name":
		out.expr(`to_json(g.name)::text`)
	case "color":
		out.expr(`COALESCE(to_json(g.color)::text, 'null')`)
	case "createdAt":
		out.expr(timeJSON("g.created_at"))
	default:
		return notCompiled("field Tag.%s", f.Name)
	}
	return nil
}

// listPage is one Query.tasks field: rows is its CTE (the walk's rows, up to limit+1, numbered n
// in the walk's order, with tg when tags are read), limit and bind the parameters of its page size
// and cursor binding.
type listPage struct {
	c                    *compiler
	rows, limit          string
	bind, bindValue      string // the binding's parameter, once a cursor needs it
	tq                   db.TaskQuery
	filter               db.TaskFilter
	field                db.SortField
	backward, fromCursor bool
}

// order is the page's order over n: the walk's, reversed when it walked backward (as pageOf
// reverses the rows).
func (p *listPage) order(reverse bool) string {
	if p.backward != reverse {
		return "t.n DESC"
	}
	return "t.n"
}

func (p *listPage) connectionField(out *sqlText, f graphql.CollectedField) error {
	c := p.c
	switch f.Name {
	case "edges":
		var edge sqlText
		if err := c.object(&edge, f.Selections, "TaskEdge", p.edgeField); err != nil {
			return err
		}
		p.list(out, edge.String())
	case "nodes":
		var task sqlText
		if err := c.object(&task, f.Selections, "Task", c.taskField); err != nil {
			return err
		}
		p.list(out, task.String())
	case "pageInfo":
		return c.object(out, f.Selections, "PageInfo", p.pageInfoField)
	case "totalCount":
		count, args := db.CompileCount(c.user, p.filter, len(c.args)+1)
		c.args = append(c.args, args...)
		out.expr(`(` + count + `)::text`)
	default:
		return notCompiled("field TaskConnection.%s", f.Name)
	}
	return nil
}

// list writes the page's rows, each as item.
func (p *listPage) list(out *sqlText, item string) {
	out.lit("[")
	out.expr(`COALESCE((SELECT string_agg(` + item + `, ',' ORDER BY ` + p.order(false) + `) FROM ` + p.rows + ` t WHERE t.n <= ` + p.limit + `), '')`)
	out.lit("]")
}

func (p *listPage) edgeField(out *sqlText, f graphql.CollectedField) error {
	switch f.Name {
	case "cursor":
		out.lit(`"`)
		out.expr(p.cursor())
		out.lit(`"`)
	case "node":
		return p.c.object(out, f.Selections, "Task", p.c.taskField)
	default:
		return notCompiled("field TaskEdge.%s", f.Name)
	}
	return nil
}

func (p *listPage) pageInfoField(out *sqlText, f graphql.CollectedField) error {
	more := `CASE WHEN (SELECT count(*) FROM ` + p.rows + `) > ` + p.limit + ` THEN 'true' ELSE 'false' END`
	from := "false"
	if p.fromCursor {
		from = "true"
	}
	switch f.Name {
	case "hasNextPage":
		if p.backward {
			out.lit(from)
		} else {
			out.expr(more)
		}
	case "hasPreviousPage":
		if p.backward {
			out.expr(more)
		} else {
			out.lit(from)
		}
	case "startCursor", "endCursor":
		out.expr(`COALESCE((SELECT '"' || ` + p.cursor() + ` || '"' FROM ` + p.rows + ` t WHERE t.n <= ` + p.limit +
			` ORDER BY ` + p.order(f.Name == "endCursor") + ` LIMIT 1), 'null')`)
	default:
		return notCompiled("field PageInfo.%s", f.Name)
	}
	return nil
}

// cursor is the row t's cursor, as db.encodeCursor writes it: base64url (no padding) of
// {"b":bind,"v":key,"i":id}, the key as json.Marshal writes the sort key's text.
func (p *listPage) cursor() string {
	var key string
	switch p.field {
	case db.SortCreatedAt:
		key = timeJSON("t.created_at")
	case db.SortUpdatedAt:
		key = timeJSON("t.updated_at")
	case db.SortDueAt:
		key = `COALESCE(` + timeJSON("t.due_at") + `, 'null')`
	case db.SortPriority:
		key = `COALESCE('"' || t.priority::text || '"', 'null')`
	case db.SortTitle:
		// json.Marshal escapes what to_json does, in the same spelling, and also <, >, &, U+2028
		// and U+2029.
		key = `replace(replace(replace(replace(replace(to_json(t.title)::text, '<', '\u003c'), '>', '\u003e'), '&', '\u0026'), chr(8232), '\u2028'), chr(8233), '\u2029')`
	}
	if p.bind == "" {
		p.bind = p.c.arg(p.bindValue)
		p.c.binds = append(p.c.binds, bindSlot{at: len(p.c.args) - 1, tq: p.tq})
	}
	return `rtrim(translate(encode(convert_to('{"b":"' || ` + p.bind + `::text || '","v":' || ` + key +
		` || ',"i":"' || t.id::text || '"}', 'UTF8'), 'base64'), E'+/\n', '-_'), '=')`
}
