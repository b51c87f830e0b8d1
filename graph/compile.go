package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph/model"
)

// The compiler turns a validated query operation into one SQL statement whose result is the
// response's data as JSON text, exactly as the resolvers and gqlgen's marshalling would write it
// (compiledexec.go runs it). It covers Query.me, task, tasks, tags, tag and __typename, with every
// field below them; fields are collected as gqlgen collects them (graphql.CollectFields:
// aliases, fragments, inline fragments, @skip/@include), arguments are decoded by the generated
// code and checked by the resolvers' own validation. Anything else, or an argument the resolvers
// would refuse, is a fallback: the operation runs through gqlgen as before.
//
// The statement's text is: the response budget's charge (see charges), a newline, the data; or
// the charge alone when it is over the budget.

// fallback is why an operation is not compiled.
type fallback struct{ reason string }

func (f *fallback) Error() string { return f.reason }

func notCompiled(format string, args ...any) error {
	return &fallback{reason: fmt.Sprintf(format, args...)}
}

// compiled is one operation's statement and its parameters.
type compiled struct {
	key, sql string
	args     []any
	binds    []bindSlot // the parameters that are a page's cursor binding (compilecache.go)
	idSlots  []idSlot   // the parameters that are an id variable's (compilecache.go)
}

// bindSlot is a parameter holding the cursor binding of a page planned from tq.
type bindSlot struct {
	at int
	tq db.TaskQuery
}

// compiler builds the statement of one operation: $1 is always the user.
type compiler struct {
	ctx     context.Context
	oc      *graphql.OperationContext
	ec      *executionContext
	user    uuid.UUID
	maxTags int // the tagIds of a filter (the resolvers' maxTagsPerUser)

	args    []any
	ctes    []string
	charges []string // SQL expressions whose sum is the budget charge of the resolvers
	binds   []bindSlot
	idVars  map[string]bool // variables used only as the id of task and tag (compilecache.go)
	idSlots []idSlot
	names   int         // CTEs named so far
	allTags string      // the CTE of the user's tags, once Query.tags is selected
	tagCols *tagColumns // the task rows being compiled: Task.tags' columns of their CTE
}

// compileOperation compiles oc's operation for user.
func compileOperation(ctx context.Context, oc *graphql.OperationContext, es *executableSchema, user uuid.UUID, maxTags int, budget int64) (compiled, error) {
	return compileWith(ctx, oc, es, user, maxTags, budget, nil)
}

// compileWith is compileOperation noting the parameters that hold the variables of idVars.
func compileWith(ctx context.Context, oc *graphql.OperationContext, es *executableSchema, user uuid.UUID, maxTags int, budget int64, idVars map[string]bool) (compiled, error) {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return compiled{}, notCompiled("not a query")
	}
	c := &compiler{ctx: ctx, oc: oc, ec: newExecutionContext(oc, es, nil), user: user, maxTags: maxTags, idVars: idVars}
	c.arg(user)
	data := sqlText{strict: true}
	if err := c.object(&data, oc.Operation.SelectionSet, "Query", c.queryField); err != nil {
		return compiled{}, err
	}
	var b strings.Builder
	if len(c.ctes) > 0 {
		b.WriteString("WITH ")
		b.WriteString(strings.Join(c.ctes, ", "))
		b.WriteByte(' ')
	}
	charge := "0"
	if len(c.charges) > 0 {
		charge = strings.Join(c.charges, " + ")
	}
	// Over the budget, the data is not built: the resolvers answer (and refuse) instead. OFFSET 0
	// keeps the charge a subquery computed once (inlined, it would be computed at each mention);
	// WHERE names $1's type for a statement that would not otherwise use it (only __typename).
	// textout makes the column a cstring, which lib/pq hands over as the bytes it read (a text
	// column it copies into a string first: one copy of the response fewer).
	b.WriteString("SELECT textout(CASE WHEN x.charge > " + c.arg(budget) + " THEN x.charge::text ELSE x.charge::text || E'\\n' || " +
		data.String() + " END) FROM (SELECT " + charge + " AS charge OFFSET 0) x WHERE $1::uuid IS NOT NULL")
	sql := b.String()
	sum := sha256.Sum256([]byte(sql))
	return compiled{key: "q" + hex.EncodeToString(sum[:16]), sql: sql, args: c.args, binds: c.binds, idSlots: c.idSlots}, nil
}

// arg adds a parameter and returns its placeholder.
func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// cte adds a common table expression and returns its name.
func (c *compiler) cte(sql string) string {
	name := c.name()
	c.addCTE(name, sql)
	return name
}

// name is the name of a new common table expression, to be added later (addCTE).
func (c *compiler) name() string {
	c.names++
	return "c" + strconv.Itoa(c.names)
}

// addCTE adds the common table expression name (materialized: each is read more than once).
func (c *compiler) addCTE(name, sql string) {
	c.ctes = append(c.ctes, name+" AS MATERIALIZED ("+sql+")")
}

// fieldFunc writes the JSON value of one collected field of an object.
type fieldFunc func(out *sqlText, f graphql.CollectedField) error

// object writes the JSON object of set on an object of type typeName, its fields collected as
// gqlgen collects them (in order of first appearance, merged by response name).
func (c *compiler) object(out *sqlText, set ast.SelectionSet, typeName string, field fieldFunc) error {
	fields := graphql.CollectFields(c.oc, set, []string{typeName})
	out.lit("{")
	for i, f := range fields {
		if len(f.Deferrables) > 0 {
			return notCompiled("@defer")
		}
		if !isName(f.Alias) {
			return notCompiled("response name %q", f.Alias)
		}
		if i > 0 {
			out.lit(",")
		}
		out.lit(`"` + f.Alias + `":`)
		if f.Name == "__typename" {
			out.lit(`"` + typeName + `"`)
			continue
		}
		if err := field(out, f); err != nil {
			return err
		}
	}
	out.lit("}")
	return nil
}

// isName reports whether s is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*), which the statement may
// hold as it is: nothing in it needs escaping in JSON or in an SQL literal.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !(i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// queryField writes a field of Query.
func (c *compiler) queryField(out *sqlText, f graphql.CollectedField) error {
	switch f.Name {
	case "me":
		return c.me(out, f)
	case "task":
		return c.task(out, f)
	case "tasks":
		return c.tasks(out, f)
	case "tags":
		return c.tags(out, f)
	case "tag":
		return c.tag(out, f)
	}
	return notCompiled("field Query.%s", f.Name)
}

// argsOf decodes f's arguments with the generated code (variables, defaults, coercion), as the
// resolver's field would; an argument it refuses is a fallback, so that gqlgen reports it.
func (c *compiler) argsOf(f graphql.CollectedField, decode func(*executionContext, context.Context, map[string]any) (map[string]any, error)) (map[string]any, error) {
	args, err := decode(c.ec, c.ctx, f.ArgumentMap(c.oc.Variables))
	if err != nil {
		return nil, notCompiled("arguments of %s: %v", f.Name, err)
	}
	return args, nil
}

// idParam is the id argument of task and tag, parsed as the resolver parses it, as a parameter.
// An id given as a variable that nothing else uses is noted (compilecache.go: idSlot).
func (c *compiler) idParam(f graphql.CollectedField, decode func(*executionContext, context.Context, map[string]any) (map[string]any, error)) (string, error) {
	args, err := c.argsOf(f, decode)
	if err != nil {
		return "", err
	}
	s, _ := args["id"].(string)
	id, err := parseID("id", s)
	if err != nil {
		return "", notCompiled("%s: id is not a UUID", f.Name)
	}
	p := c.arg(id)
	if a := f.Arguments.ForName("id"); a != nil && a.Value.Kind == ast.Variable && c.idVars[a.Value.Raw] {
		c.idSlots = append(c.idSlots, idSlot{at: len(c.args) - 1, variable: a.Value.Raw})
	}
	return p, nil
}

func (c *compiler) me(out *sqlText, f graphql.CollectedField) error {
	var u sqlText
	if err := c.object(&u, f.Selections, "User", c.userField); err != nil {
		return err
	}
	// No row (a user deleted since the token was issued): NULL, which makes the whole result
	// NULL, and the resolvers answer with their error.
	out.expr(`SELECT ` + u.String() + ` FROM taskgraph_current_user u WHERE u.uuid = $1`)
	return nil
}

func (c *compiler) userField(out *sqlText, f graphql.CollectedField) error {
	switch f.Name {
	case "id":
		out.expr(`to_json(u.id)::text`)
	case "uuid":
		out.lit(`"`)
		out.expr(`u.uuid::text`)
		out.lit(`"`)
	case "email":
		out.expr(`to_json(u.email)::text`)
	case "name":
		// The resolver turns an empty name into null.
		out.expr(`CASE WHEN u.name IS NULL OR u.name = '' THEN 'null' ELSE to_json(u.name)::text END`)
	default:
		return notCompiled("field User.%s", f.Name)
	}
	return nil
}

func (c *compiler) task(out *sqlText, f graphql.CollectedField) error {
	id, err := c.idParam(f, (*executionContext).field_Query_task_args)
	if err != nil {
		return err
	}
	rows := c.name()
	var tags tagColumns
	c.tagCols = &tags
	var task sqlText
	if err := c.object(&task, f.Selections, "Task", c.taskField); err != nil {
		return err
	}
	c.tagCols = nil
	c.addCTE(rows, `SELECT t.*, tg.* FROM tasks t `+tags.lateral("t")+` WHERE t.user_uuid = $1 AND t.id = `+id)
	out.expr(`COALESCE((SELECT ` + task.String() + ` FROM ` + rows + ` t), 'null')`)
	c.charges = append(c.charges, `(SELECT COALESCE(sum(`+taskCharge(true)+`), 0) FROM `+rows+` t)`)
	return nil
}

func (c *compiler) tag(out *sqlText, f graphql.CollectedField) error {
	id, err := c.idParam(f, (*executionContext).field_Query_tag_args)
	if err != nil {
		return err
	}
	var tag sqlText
	if err := c.object(&tag, f.Selections, "Tag", c.tagField); err != nil {
		return err
	}
	out.expr(`COALESCE((SELECT ` + tag.String() + ` FROM tags g WHERE g.user_uuid = $1 AND g.id = ` + id + `), 'null')`)
	return nil
}

func (c *compiler) tags(out *sqlText, f graphql.CollectedField) error {
	if c.allTags == "" {
		c.allTags = c.cte(`SELECT g.* FROM tags g WHERE g.user_uuid = $1`)
	}
	// Each Query.tags field charges the budget.
	c.charges = append(c.charges, `(SELECT COALESCE(sum(`+tagCharge+`), 0) FROM `+c.allTags+` g)`)
	var tag sqlText
	if err := c.object(&tag, f.Selections, "Tag", c.tagField); err != nil {
		return err
	}
	out.lit("[")
	out.expr(`COALESCE((SELECT string_agg(` + tag.String() + `, ',' ORDER BY lower(g.name), g.id) FROM ` + c.allTags + ` g), '')`)
	out.lit("]")
	return nil
}

// tasks compiles Query.tasks: its arguments decoded and validated as the resolver does
// (taskQuery), its page planned by the data layer (db.CompilePage, the walk ListTasks reads).
func (c *compiler) tasks(out *sqlText, f graphql.CollectedField) error {
	args, err := c.argsOf(f, (*executionContext).field_Query_tasks_args)
	if err != nil {
		return err
	}
	first, _ := args["first"].(*int)
	last, _ := args["last"].(*int)
	after, _ := args["after"].(*string)
	before, _ := args["before"].(*string)
	filter, _ := args["filter"].(*model.TaskFilter)
	orderBy, _ := args["orderBy"].(*model.TaskOrder)
	q, err := taskQuery(pageArgs{first: first, after: after, last: last, before: before}, filter, orderBy, c.maxTags)
	if err != nil {
		return notCompiled("arguments of tasks: %v", err)
	}
	if q.Cursor != "" && c.user == planUser {
		return errCursorPlan // a cursor is checked against its own user's binding
	}
	withTags := mentions(f.Selections, "tags")
	page, err := db.CompilePage(c.user, q, len(c.args)+1)
	if errors.Is(err, db.ErrInvalidCursor) {
		return notCompiled("tasks: %v", err)
	}
	if err != nil {
		return err
	}
	c.args = append(c.args, page.Args...)
	rows := c.name()
	lp := &listPage{
		c: c, rows: rows, limit: c.arg(q.Limit), bindValue: page.Bind, tq: q, filter: q.Filter,
		field: q.Order.Field, backward: q.Backward, fromCursor: q.Cursor != "",
	}
	var tags tagColumns
	c.tagCols = &tags
	var conn sqlText
	if err := c.object(&conn, f.Selections, "TaskConnection", lp.connectionField); err != nil {
		return err
	}
	c.tagCols = nil
	cols, from := `p.*`, `(`+page.Rows+`) p`
	if withTags || len(tags.aggs) > 0 {
		cols, from = `p.*, tg.*`, from+` `+tags.lateral("p")
	}
	c.addCTE(rows, `SELECT `+cols+`, row_number() OVER (ORDER BY `+strings.ReplaceAll(page.Order, "t.", "p.")+`) AS n FROM `+from)
	c.charges = append(c.charges, `(SELECT COALESCE(sum(`+taskCharge(withTags)+`), 0) FROM `+rows+` t WHERE t.n <= `+lp.limit+`)`)
	out.expr(conn.String())
	return nil
}

// sqlText is an SQL expression of type text built by concatenation: literal JSON punctuation and
// names, and expressions. It is one concat() call (one function call and one copy, where a chain
// of || copies the text at each step), in which a NULL part is empty; strict, it is a chain of ||
// instead, NULL if a part is (the data of a user without a row: see me).
type sqlText struct {
	parts  []string
	lit_   strings.Builder
	strict bool
}

// lit appends literal text (JSON punctuation, names: never a client's value).
func (s *sqlText) lit(t string) { s.lit_.WriteString(t) }

// expr appends an SQL expression of type text, never NULL unless the whole result must be.
func (s *sqlText) expr(e string) {
	s.flush()
	s.parts = append(s.parts, "("+e+")")
}

func (s *sqlText) flush() {
	if s.lit_.Len() > 0 {
		s.parts = append(s.parts, "'"+strings.ReplaceAll(s.lit_.String(), "'", "''")+"'")
		s.lit_.Reset()
	}
}

func (s *sqlText) String() string {
	s.flush()
	switch {
	case len(s.parts) == 0:
		return "''"
	case len(s.parts) == 1:
		return s.parts[0]
	case s.strict:
		return strings.Join(s.parts, " || ")
	}
	return "concat(" + strings.Join(s.parts, ", ") + ")"
}
