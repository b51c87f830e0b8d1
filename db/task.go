package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Priority ranks a task: LOW < MEDIUM < HIGH < URGENT. Stored as 1..4 so that it sorts by rank.
type Priority int16

const (
	PriorityLow    Priority = 1
	PriorityMedium Priority = 2
	PriorityHigh   Priority = 3
	PriorityUrgent Priority = 4
)

// Task is a user's to-do item. Tags are loaded separately (TagsByTask).
type Task struct {
	ID          uuid.UUID
	Title       string
	Description *string
	CompletedAt *time.Time // set exactly when the task is completed
	Priority    *Priority
	DueAt       *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

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

type taskRow struct {
	ID          uuid.UUID      `db:"id"`
	Title       string         `db:"title"`
	Description sql.NullString `db:"description"`
	CompletedAt sql.NullTime   `db:"completed_at"`
	Priority    sql.NullInt16  `db:"priority"`
	DueAt       sql.NullTime   `db:"due_at"`
	CreatedAt   time.Time      `db:"created_at"`
	UpdatedAt   time.Time      `db:"updated_at"`
}

func (r taskRow) task() Task {
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
	return t
}

const taskColumns = `id, title, description, completed_at, priority, due_at, created_at, updated_at`

// Task returns the user's task id, or ErrNotFound.
func (s *Store) Task(ctx context.Context, user, id uuid.UUID) (Task, error) {
	var t Task
	err := s.withTx(ctx, user, func(tx *sqlx.Tx, _ time.Time) error {
		var err error
		t, err = findTask(ctx, tx, user, id, false)
		return err
	})
	return t, err
}

func findTask(ctx context.Context, x sqlx.ExtContext, user, id uuid.UUID, forUpdate bool) (Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE user_uuid = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	return getOne(ctx, x, "find task", taskRow.task, q, user, id)
}

// CreateTask creates a task with its tags, atomically: if any tag is not the user's, nothing is
// written and the error is ErrTagNotFound.
func (s *Store) CreateTask(ctx context.Context, user uuid.UUID, in NewTask) (Task, error) {
	var t Task
	err := s.withTx(ctx, user, func(tx *sqlx.Tx, now time.Time) error {
		var completedAt *time.Time
		if in.Completed {
			completedAt = &now
		}
		const q = `INSERT INTO tasks (user_uuid, title, description, completed_at, priority, due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
			RETURNING ` + taskColumns
		var r taskRow
		if err := sqlx.GetContext(ctx, tx, &r, q, user, in.Title, in.Description, completedAt, in.Priority, in.DueAt, now); err != nil {
			return fmt.Errorf("db: create task: %w", mapErr(err))
		}
		t = r.task()
		if err := addTaskTags(ctx, tx, user, t.ID, in.TagIDs); err != nil {
			return err
		}
		return notify(ctx, tx, user, now, change{KindTask, OpCreated, []uuid.UUID{t.ID}})
	})
	return t, err
}

// addTaskTags puts the user's tags tagIDs on the task. Tags that are not the user's are not
// inserted, which is detected by the count and reported as ErrNotFound.
func addTaskTags(ctx context.Context, x sqlx.ExtContext, user, taskID uuid.UUID, tagIDs []uuid.UUID) error {
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
	err := s.withTx(ctx, user, func(tx *sqlx.Tx, now time.Time) error {
		cur, err := findTask(ctx, tx, user, id, true)
		if err != nil {
			return err
		}
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
		const q = `UPDATE tasks SET title = $3, description = $4, completed_at = $5, priority = $6, due_at = $7, updated_at = $8
			WHERE user_uuid = $1 AND id = $2
			RETURNING ` + taskColumns
		var r taskRow
		if err := sqlx.GetContext(ctx, tx, &r, q, user, id, cur.Title, cur.Description, cur.CompletedAt, cur.Priority, cur.DueAt, now); err != nil {
			return fmt.Errorf("db: update task: %w", mapErr(err))
		}
		t = r.task()
		if p.TagIDs != nil {
			const del = `DELETE FROM task_tags WHERE user_uuid = $1 AND task_id = $2`
			if _, err := tx.ExecContext(ctx, del, user, id); err != nil {
				return fmt.Errorf("db: clear task tags: %w", err)
			}
			if err := addTaskTags(ctx, tx, user, id, *p.TagIDs); err != nil {
				return err
			}
		}
		return notify(ctx, tx, user, now, change{KindTask, OpUpdated, []uuid.UUID{id}})
	})
	return t, err
}

// DeleteTask deletes the user's task id, or returns ErrNotFound.
func (s *Store) DeleteTask(ctx context.Context, user, id uuid.UUID) error {
	return s.withTx(ctx, user, func(tx *sqlx.Tx, now time.Time) error {
		const q = `DELETE FROM tasks WHERE user_uuid = $1 AND id = $2`
		if err := execOne(ctx, tx, "delete task", q, user, id); err != nil {
			return err
		}
		return notify(ctx, tx, user, now, change{KindTask, OpDeleted, []uuid.UUID{id}})
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
