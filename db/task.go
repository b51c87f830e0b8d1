package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// NewTask is a validated task to create. Completed sets CompletedAt to the transaction's time.
type NewTask struct {
	Title       string
	Description *string
	Priority    *Priority
	DueAt       *time.Time
	Completed   bool
	TagIDs      []uuid.UUID
}

// TaskPatch changes a task: nil pointers and unset Fields leave a column unchanged.
// TagIDs, when non-nil, replaces the task's tags.
type TaskPatch struct {
	Title       *string
	Description Field[string]
	Priority    Field[Priority]
	DueAt       Field[time.Time]
	Completed   *bool
	TagIDs      *[]uuid.UUID
}

// taskRow is a row of taskColumns, and of tagsColumn when selected. Rows are scanned by position
// (dest), without reflection: a page is 20 of them.
type taskRow struct {
	ID          uuid.UUID
	Title       string
	Description sql.NullString
	CompletedAt sql.NullTime
	Priority    sql.NullInt16
	DueAt       sql.NullTime
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Tags        []byte // tagsColumn's JSON, when selected; NULL for none
}

// dest is where Scan puts taskColumns, then tagsColumn when withTags, then extra.
func (r *taskRow) dest(withTags bool, extra ...any) []any {
	d := make([]any, 0, 9+len(extra))
	d = append(d, &r.ID, &r.Title, &r.Description, &r.CompletedAt, &r.Priority, &r.DueAt, &r.CreatedAt, &r.UpdatedAt)
	if withTags {
		d = append(d, &r.Tags)
	}
	return append(d, extra...)
}

// task converts the row; tags that do not decode are an error (they are the database's own JSON).
func (r taskRow) task() (Task, error) {
	t := Task{ID: r.ID, Title: r.Title, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.Description.Valid {
		d := r.Description.String
		t.Description = &d
	}
	if r.CompletedAt.Valid {
		c := r.CompletedAt.Time.UTC()
		t.CompletedAt = &c
	}
	if r.Priority.Valid {
		p := Priority(r.Priority.Int16)
		t.Priority = &p
	}
	if r.DueAt.Valid {
		d := r.DueAt.Time.UTC()
		t.DueAt = &d
	}
	if r.Tags != nil {
		if err := json.Unmarshal(r.Tags, &t.Tags); err != nil {
			return t, fmt.Errorf("db: tags of task %s: %w", t.ID, err)
		}
		for i := range t.Tags {
			t.Tags[i].CreatedAt = t.Tags[i].CreatedAt.UTC()
		}
	}
	return t, nil
}

// appendRows runs stmt and appends its task rows to rows.
func appendRows(ctx context.Context, tx *txn, rows []taskRow, withTags bool, stmt string, args []any) ([]taskRow, error) {
	res, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return rows, err
	}
	defer res.Close()
	for res.Next() {
		rows = append(rows, taskRow{})
		if err := res.Scan(rows[len(rows)-1].dest(withTags)...); err != nil {
			return rows, err
		}
	}
	return rows, res.Err()
}

const taskColumns = `id, title, description, completed_at, priority, due_at, created_at, updated_at`

// tagsColumn is the tags of the row t as one JSON array (NULL when it has none), by name, keyed by
// Tag's field names so that it decodes into []Tag as is. It is a correlated subquery on
// task_tags' primary key (user_uuid, task_id, tag_id) and tags' (user_uuid, id): a few index
// lookups per task, made only for the rows the statement returns (after its LIMIT), so a page's
// tags cost no second statement and no round trip. Every statement that uses it binds the user as
// $1, which scopes the subquery like the rest of the statement.
const tagsColumn = `(SELECT json_agg(json_build_object('ID', g.id, 'Name', g.name, 'Color', g.color, 'CreatedAt', g.created_at)
		ORDER BY lower(g.name), g.id)
	FROM task_tags tt JOIN tags g ON g.user_uuid = tt.user_uuid AND g.id = tt.tag_id
	WHERE tt.user_uuid = $1 AND tt.task_id = t.id) AS tags`

// getTask reads the one task row q returns (ErrNotFound if none), with its tags when withTags.
func getTask(ctx context.Context, tx *txn, what string, withTags bool, q string, args ...any) (Task, error) {
	var r taskRow
	err := tx.QueryRowxContext(ctx, q, args...).Scan(r.dest(withTags)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Task{}, ErrNotFound
	case err != nil:
		return Task{}, fmt.Errorf("db: %s: %w", what, mapErr(err))
	}
	return r.task()
}

// Task returns the user's task id, or ErrNotFound.
func (s *Store) Task(ctx context.Context, user, id uuid.UUID) (Task, error) {
	var t Task
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		var err error
		t, err = findTask(ctx, tx, user, id, false)
		return err
	})
	return t, err
}

// findTask reads the user's task id with its tags; forUpdate also locks it (without its tags).
func findTask(ctx context.Context, x *txn, user, id uuid.UUID, forUpdate bool) (Task, error) {
	if forUpdate {
		const q = `SELECT ` + taskColumns + ` FROM tasks WHERE user_uuid = $1 AND id = $2 FOR UPDATE`
		return getTask(ctx, x, "find task", false, q, user, id)
	}
	const q = `SELECT ` + taskColumns + `, ` + tagsColumn + ` FROM tasks t WHERE t.user_uuid = $1 AND t.id = $2`
	return getTask(ctx, x, "find task", true, q, user, id)
}

// createTask inserts the task and puts the user's tags $8 on it in one statement, and returns the
// new row with those tags and how many it tagged: fewer than asked means that a tag is not the
// user's (the caller then rolls back). The task_tags rows' foreign keys are checked at the end of
// the statement, when the task row exists.
const createTask = `WITH t AS (
		INSERT INTO tasks (user_uuid, title, description, completed_at, priority, due_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		RETURNING ` + taskColumns + `
	), g AS (
		SELECT id, name, color, created_at FROM tags WHERE user_uuid = $1 AND id = ANY($8::uuid[])
	), tt AS (
		INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT $1, t.id, g.id FROM t, g
		RETURNING tag_id
	)
	SELECT t.*,
		(SELECT json_agg(json_build_object('ID', g.id, 'Name', g.name, 'Color', g.color, 'CreatedAt', g.created_at)
			ORDER BY lower(g.name), g.id) FROM g) AS tags,
		(SELECT count(*) FROM tt) AS tagged
	FROM t`

// CreateTask creates a task with its tags in one statement, atomically: if any tag is not the
// user's, nothing is written and the error is ErrTagNotFound.
func (s *Store) CreateTask(ctx context.Context, user uuid.UUID, in NewTask) (Task, error) {
	var t Task
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		var completedAt *time.Time
		if in.Completed {
			completedAt = &now
		}
		ids := distinct(in.TagIDs)
		var r taskRow
		var tagged int
		err := tx.QueryRowxContext(ctx, createTask, user, in.Title, in.Description, completedAt, in.Priority, in.DueAt, now, uuidArray(ids)).
			Scan(r.dest(true, &tagged)...)
		if err != nil {
			return fmt.Errorf("db: create task: %w", mapErr(err))
		}
		if tagged != len(ids) {
			return fmt.Errorf("db: create task: %w", ErrTagNotFound)
		}
		if t, err = r.task(); err != nil {
			return err
		}
		return notify(tx, user, now, change{KindTask, OpCreated, []uuid.UUID{t.ID}})
	})
	return t, err
}

// addTaskTags puts the user's tags tagIDs on the task. Tags that are not the user's are not
// inserted, which is detected by the count and reported as ErrNotFound.
func addTaskTags(ctx context.Context, x *txn, user, taskID uuid.UUID, tagIDs []uuid.UUID) error {
	ids := distinct(tagIDs)
	if len(ids) == 0 {
		return nil
	}
	const q = `INSERT INTO task_tags (user_uuid, task_id, tag_id)
		SELECT $1, $2, id FROM tags WHERE user_uuid = $1 AND id = ANY($3::uuid[])`
	res, err := x.ExecContext(ctx, q, user, taskID, uuidArray(ids))
	if err != nil {
		return fmt.Errorf("db: add task tags: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("db: add task tags: %w", err)
	}
	if int(n) != len(ids) {
		return fmt.Errorf("db: add task tags: %w", ErrTagNotFound)
	}
	return nil
}

// UpdateTask applies p to the user's task id. updatedAt always moves to the transaction's time;
// Completed true sets completedAt (keeping an earlier one), false clears it. ErrNotFound if the task
// (ErrTagNotFound: any of the new tags) is not the user's; then nothing changes.
func (s *Store) UpdateTask(ctx context.Context, user, id uuid.UUID, p TaskPatch) (Task, error) {
	var t Task
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		cur, err := findTask(ctx, tx, user, id, true)
		if err != nil {
			return err
		}
		// The row lock may have been waited for: read the time after it, so that of concurrent
		// writes the one committed last carries the latest updatedAt.
		now = s.now()
		if p.Title != nil {
			cur.Title = *p.Title
		}
		if p.Description.Set {
			cur.Description = p.Description.Value
		}
		if p.Priority.Set {
			cur.Priority = p.Priority.Value
		}
		if p.DueAt.Set {
			cur.DueAt = p.DueAt.Value
		}
		if p.Completed != nil {
			switch {
			case !*p.Completed:
				cur.CompletedAt = nil
			case cur.CompletedAt == nil:
				cur.CompletedAt = &now
			}
		}
		if p.TagIDs != nil {
			const del = `DELETE FROM task_tags WHERE user_uuid = $1 AND task_id = $2`
			if _, err := tx.ExecContext(ctx, del, user, id); err != nil {
				return fmt.Errorf("db: clear task tags: %w", err)
			}
			if err := addTaskTags(ctx, tx, user, id, *p.TagIDs); err != nil {
				return err
			}
		}
		// Last, so that the tags it returns are the new ones.
		const q = `UPDATE tasks t SET title = $3, description = $4, completed_at = $5, priority = $6, due_at = $7, updated_at = $8
			WHERE t.user_uuid = $1 AND t.id = $2
			RETURNING ` + taskColumns + `, ` + tagsColumn
		if t, err = getTask(ctx, tx, "update task", true, q, user, id, cur.Title, cur.Description, cur.CompletedAt, cur.Priority, cur.DueAt, now); err != nil {
			return err
		}
		return notify(tx, user, now, change{KindTask, OpUpdated, []uuid.UUID{id}})
	})
	return t, err
}

// DeleteTask deletes the user's task id, or returns ErrNotFound.
func (s *Store) DeleteTask(ctx context.Context, user, id uuid.UUID) error {
	return s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		const q = `DELETE FROM tasks WHERE user_uuid = $1 AND id = $2`
		if err := execOne(ctx, tx, "delete task", q, user, id); err != nil {
			return err
		}
		return notify(tx, user, now, change{KindTask, OpDeleted, []uuid.UUID{id}})
	})
}

func distinct(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// uuidArray passes ids as a text[] parameter; queries cast it with ::uuid[].
func uuidArray(ids []uuid.UUID) pq.StringArray {
	a := make(pq.StringArray, len(ids))
	for i, id := range ids {
		a[i] = id.String()
	}
	return a
}
