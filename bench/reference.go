package main

import (
	"context"
	"fmt"
)

// The minimal SQL for each kind of request (pgbench (a)): what PostgreSQL must do at the least to
// answer it, with none of the server's guarantees: no transaction, no role switch or user
// setting, no RLS (the superuser bypasses it), prepared once per connection. A page is its rows
// (one more than asked, for hasNextPage) plus the tags of those rows; a create is one statement
// that inserts the task and its tags atomically and returns both.
const (
	refTaskColumns = `id, title, description, completed_at, priority, due_at, created_at`
	refOrder       = ` ORDER BY created_at DESC, id DESC LIMIT `
	refTags        = `SELECT tt.task_id, g.id, g.name, g.color FROM task_tags tt
		JOIN tags g ON g.user_uuid = tt.user_uuid AND g.id = tt.tag_id
		WHERE tt.user_uuid = $1 AND tt.task_id = ANY($2::uuid[])`
	refCreate = `WITH t AS (
			INSERT INTO tasks (user_uuid, title, description, priority, due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, now(), now()) RETURNING ` + refTaskColumns + `, user_uuid),
		tt AS (INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT t.user_uuid, t.id, g FROM t, unnest($6::uuid[]) g)
		SELECT t.id, t.title, t.description, t.completed_at, t.priority, t.due_at, t.created_at, g.id AS tag_id, g.name, g.color
		FROM t JOIN tags g ON g.user_uuid = t.user_uuid AND g.id = ANY($6::uuid[])`
)

// referenceScript is the minimal SQL for request i of kind k by user u, with the parameter values
// it needs looked up in the build's database (the page's ids for its tags, page 500's key).
func referenceScript(ctx context.Context, d *benchDB, k *kind, u *userData, i int) (pgScript, error) {
	name := fmt.Sprintf("(a) %s %s", k.name, u.sub)
	page := func(cond string, limit int, args ...string) (pgScript, error) {
		return refPage(ctx, d, name, u, cond, limit, args...)
	}
	switch k {
	case kindPage1:
		return page("", 20)
	case kindPage100:
		return page("", 100)
	case kindFilter:
		return page(` AND completed_at IS NULL AND priority = ANY($2::smallint[])`, 20, "{3,4}")
	case kindSearch:
		return page(` AND (title ILIKE $2 OR description ILIKE $2)`, 20, "%report%")
	case kindPage500:
		// The key of the last row of page 499: where the server's cursor points.
		var at, id string
		err := d.x.QueryRowxContext(ctx, `SELECT created_at::text, id FROM tasks WHERE user_uuid = $1`+refOrder+`1 OFFSET $2`,
			u.uuid, (pageDepth-1)*20-1).Scan(&at, &id)
		if err != nil {
			return pgScript{}, fmt.Errorf("%s: %w", name, err)
		}
		return page(` AND (created_at, id) < ($2::timestamptz, $3::uuid)`, 20, at, id)
	case kindTask:
		id := u.taskIDs[(i/round)%len(u.taskIDs)]
		return pgScript{name: name, steps: []step{
			{sql: `SELECT ` + refTaskColumns + ` FROM tasks WHERE user_uuid = $1 AND id = $2`, params: []*string{str(u.uuid), str(id)}},
			{sql: refTags, params: []*string{str(u.uuid), str(pgArray([]string{id}))}},
		}}, nil
	case kindCreate:
		in := k.vars(u, i, nil)["input"].(map[string]any)
		tags := in["tagIds"].([]string)
		return pgScript{name: name, steps: []step{{sql: refCreate, params: []*string{
			str(u.uuid), str(in["title"].(string)), str(in["description"].(string)), str("3"),
			str(in["dueAt"].(string)), str(pgArray(tags)),
		}}}}, nil
	}
	return pgScript{}, fmt.Errorf("no reference SQL for %s", k.name)
}

func str(v string) *string { return &v }

// refPage is a page of u's tasks (limit+1 rows, for hasNextPage) matching cond with args, then
// one query for the tags of the page's rows, read now so that the script asks for the same ones.
func refPage(ctx context.Context, d *benchDB, name string, u *userData, cond string, limit int, args ...string) (pgScript, error) {
	sql := `SELECT ` + refTaskColumns + ` FROM tasks WHERE user_uuid = $1` + cond + refOrder + fmt.Sprint(limit+1)
	params := []*string{str(u.uuid)}
	qargs := []any{u.uuid}
	for _, a := range args {
		params = append(params, str(a))
		qargs = append(qargs, a)
	}
	var ids []string
	if err := d.x.SelectContext(ctx, &ids, `SELECT id FROM (`+sql+`) p LIMIT `+fmt.Sprint(limit), qargs...); err != nil {
		return pgScript{}, fmt.Errorf("%s: %w", name, err)
	}
	return pgScript{name: name, steps: []step{
		{sql: sql, params: params},
		{sql: refTags, params: []*string{str(u.uuid), str(pgArray(ids))}},
	}}, nil
}
