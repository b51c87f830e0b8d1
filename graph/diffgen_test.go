package graph_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The differential test's operations: random but valid-looking read documents (some invalid on
// purpose: bad arguments, foreign cursors), with their variables.

// listContext is a tasks list a cursor was read from: the user, filter and ordering it was asked
// with, so that later operations page through it.
type listContext struct {
	user          int
	filter, order map[string]any
	cursor        string
}

type gen struct {
	d       *diffWorker
	user    int
	vars    map[string]any
	varDefs []string
	frags   []string
	names   int
	lists   map[string]listContext // root alias of a tasks field → its arguments (cursor empty)
}

func (d *diffWorker) operation() diffOp {
	g := &gen{d: d, vars: map[string]any{}, lists: map[string]listContext{}}
	switch n := d.rng.IntN(100); {
	case n < 60:
		g.user = 0
	case n < 75:
		g.user = 1
	case n < 90:
		g.user = 2
	default:
		g.user = 3
	}
	var sel []string
	for range 1 + d.rng.IntN(3) {
		sel = append(sel, g.rootField())
	}
	var b strings.Builder
	b.WriteString("query Op")
	if len(g.varDefs) > 0 {
		b.WriteString("(" + strings.Join(g.varDefs, ", ") + ")")
	}
	b.WriteString(" { " + strings.Join(sel, " ") + " }")
	for _, f := range g.frags {
		b.WriteString("\n" + f)
	}
	return diffOp{user: g.user, query: b.String(), vars: g.vars, lists: g.lists}
}

func (g *gen) chance(percent int) bool { return g.d.rng.IntN(100) < percent }

func (g *gen) name(prefix string) string {
	g.names++
	return prefix + strconv.Itoa(g.names)
}

// value is v as a literal or, half the time, as a variable of type typ.
func (g *gen) value(typ string, v any) string {
	if g.chance(50) {
		n := g.name("v")
		g.varDefs = append(g.varDefs, "$"+n+": "+typ)
		g.vars[n] = v
		return "$" + n
	}
	return literal(v)
}

// literal writes v as a GraphQL value: enums are the strings in enumValue.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case enumValue:
		return string(v)
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = literal(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + literal(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// enumValue is an enum in a literal (bare) and a string in variables.
type enumValue string

func (e enumValue) MarshalJSON() ([]byte, error) { return json.Marshal(string(e)) }

// alias is sometimes "name: ", making the response key differ from the field.
func (g *gen) alias() string {
	if g.chance(25) {
		return g.name("a") + ": "
	}
	return ""
}

// directives is sometimes @skip or @include, on a variable or a literal.
func (g *gen) directives() string {
	if !g.chance(12) {
		return ""
	}
	dir := "@skip"
	if g.chance(50) {
		dir = "@include"
	}
	var cond string
	if g.chance(70) {
		n := g.name("b")
		g.varDefs = append(g.varDefs, "$"+n+": Boolean!")
		g.vars[n] = g.chance(50)
		cond = "$" + n
	} else {
		cond = strconv.FormatBool(g.chance(50))
	}
	return " " + dir + "(if: " + cond + ")"
}

func (g *gen) rootField() string {
	switch n := g.d.rng.IntN(100); {
	case n < 45:
		key := g.name("t")
		args := g.tasksArgs(key)
		return key + ": tasks" + args + g.directives() + " " + g.selection("TaskConnection", 0)
	case n < 60:
		return g.alias() + "task(id: " + g.value("ID!", g.id(g.d.taskIDs)) + ")" + g.directives() + " " + g.selection("Task", 0)
	case n < 72:
		return g.alias() + "tags" + g.directives() + " " + g.selection("Tag", 0)
	case n < 84:
		return g.alias() + "tag(id: " + g.value("ID!", g.id(g.d.tagIDs)) + ")" + g.directives() + " " + g.selection("Tag", 0)
	case n < 96:
		return g.alias() + "me" + g.directives() + " " + g.selection("User", 0)
	default:
		return g.alias() + "__typename"
	}
}

// id is one of ids (of any user), a random UUID, or not a UUID.
func (g *gen) id(ids []string) string {
	switch n := g.d.rng.IntN(100); {
	case n < 75 && len(ids) > 0:
		return ids[g.d.rng.IntN(len(ids))]
	case n < 90:
		return uuid.NewString()
	case n < 95:
		return strings.ToUpper(uuid.NewString())
	default:
		return "not-a-uuid"
	}
}

var fieldsOf = map[string][]string{
	"TaskConnection": {"edges", "nodes", "pageInfo", "totalCount", "__typename"},
	"TaskEdge":       {"cursor", "node", "__typename"},
	"PageInfo":       {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"},
	"Task":           {"id", "title", "description", "completed", "completedAt", "priority", "dueAt", "createdAt", "updatedAt", "tags", "__typename"},
	"Tag":            {"id", "name", "color", "createdAt", "__typename"},
	"User":           {"id", "uuid", "email", "name", "__typename"},
}

var objectType = map[string]string{
	"TaskConnection.edges": "TaskEdge", "TaskConnection.nodes": "Task", "TaskConnection.pageInfo": "PageInfo",
	"TaskEdge.node": "Task", "Task.tags": "Tag",
}

// selection is a random selection set on typ: some of its fields, some aliased, some under
// directives, some in inline fragments or named fragments.
func (g *gen) selection(typ string, depth int) string {
	fields := fieldsOf[typ]
	perm := g.d.rng.Perm(len(fields))
	n := 1 + g.d.rng.IntN(len(fields))
	var items []string
	for _, i := range perm[:n] {
		f := fields[i]
		item := g.alias() + f + g.directives()
		if sub, ok := objectType[typ+"."+f]; ok {
			item += " " + g.selection(sub, depth+1)
		}
		items = append(items, item)
		if g.chance(10) { // the same field again, merged
			items = append(items, item)
		}
	}
	// Group some of them into fragments.
	if len(items) > 1 && g.chance(30) {
		k := 1 + g.d.rng.IntN(len(items)-1)
		inner := strings.Join(items[k:], " ")
		switch g.d.rng.IntN(3) {
		case 0:
			items = append(items[:k], "... on "+typ+g.directives()+" { "+inner+" }")
		case 1:
			items = append(items[:k], "..."+g.directives()+" { "+inner+" }")
		default:
			name := g.name("F")
			g.frags = append(g.frags, "fragment "+name+" on "+typ+" { "+inner+" }")
			items = append(items[:k], "..."+name+g.directives())
		}
	}
	return "{ " + strings.Join(items, " ") + " }"
}

var (
	sortFields = []string{"CREATED_AT", "UPDATED_AT", "DUE_AT", "PRIORITY", "TITLE"}
	priorities = []string{"LOW", "MEDIUM", "HIGH", "URGENT"}
	searches   = []string{"same", "SAME", "a", "e", "quotes", `\`, "%", "_", "\n", "😀", "<b>", "x", "pie", "100% _", "zz", strings.Repeat("s", 201)}
	dueTimes   = []string{"2026-03-01T12:00:00Z", "2026-03-01T12:00:00.1+01:00", "0001-01-01T00:00:00Z", "2026-02-27T12:00:00-05:00", "yesterday", "2026-03-01T12:00:00"}
)

// tasksArgs are random arguments of Query.tasks; key is the field's response key, under which the
// answer's cursors are recorded with the list's arguments.
func (g *gen) tasksArgs(key string) string {
	d := g.d
	var filter, order map[string]any
	var cursor string
	if len(d.lists) > 0 && g.chance(40) { // page through a list seen before
		l := d.lists[d.rng.IntN(len(d.lists))]
		filter, order, cursor = l.filter, l.order, l.cursor
		if g.chance(85) {
			g.user = l.user
		}
	} else {
		if g.chance(40) {
			filter = g.filter()
		}
		if g.chance(50) {
			order = map[string]any{}
			if g.chance(85) {
				order["field"] = enumValue(sortFields[d.rng.IntN(len(sortFields))])
			}
			if g.chance(85) {
				order["direction"] = enumValue([]string{"ASC", "DESC"}[d.rng.IntN(2)])
			}
		}
		if g.chance(10) && len(d.cursors) > 0 {
			cursor = d.cursors[d.rng.IntN(len(d.cursors))] // most likely of another list
		} else if g.chance(3) {
			cursor = "not a cursor"
		}
	}
	g.lists[key] = listContext{user: g.user, filter: filter, order: order}
	var args []string
	sizes := []int{0, 1, 2, 3, 5, 10, 20, 25, 50, 100}
	size := sizes[d.rng.IntN(len(sizes))]
	if g.chance(2) {
		size = []int{-1, 101}[d.rng.IntN(2)]
	}
	backward := g.chance(30)
	switch {
	case backward:
		args = append(args, "last: "+g.value("Int", size))
		if cursor != "" {
			args = append(args, "before: "+g.value("String", cursor))
		}
		if g.chance(3) {
			args = append(args, "first: 1")
		}
	default:
		if g.chance(80) {
			args = append(args, "first: "+g.value("Int", size))
		}
		if cursor != "" {
			args = append(args, "after: "+g.value("String", cursor))
		}
		if g.chance(2) {
			args = append(args, "before: "+g.value("String", cursor))
		}
	}
	if filter != nil {
		args = append(args, "filter: "+g.value("TaskFilter", filter))
	}
	if order != nil {
		args = append(args, "orderBy: "+g.value("TaskOrder", order))
	}
	if len(args) == 0 {
		return ""
	}
	return "(" + strings.Join(args, ", ") + ")"
}

func (g *gen) filter() map[string]any {
	d := g.d
	f := map[string]any{}
	if g.chance(30) {
		f["completed"] = g.chance(50)
	}
	if g.chance(25) {
		var ps []any
		for _, p := range priorities {
			if g.chance(40) {
				ps = append(ps, enumValue(p))
			}
		}
		f["priorities"] = ps
	}
	if g.chance(25) {
		var ids []any
		for range d.rng.IntN(3) {
			ids = append(ids, g.id(d.tagIDs))
		}
		f["tagIds"] = ids
		if g.chance(50) {
			f["tagMatch"] = enumValue([]string{"ANY", "ALL"}[d.rng.IntN(2)])
		}
	}
	if g.chance(35) {
		f["search"] = searches[d.rng.IntN(len(searches))]
	}
	if g.chance(20) {
		f["dueAfter"] = dueTimes[d.rng.IntN(len(dueTimes))]
	}
	if g.chance(20) {
		f["dueBefore"] = dueTimes[d.rng.IntN(len(dueTimes))]
	}
	return f
}
