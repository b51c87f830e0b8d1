package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// NewTag is a validated tag to create.
type NewTag struct {
	Name  string
	Color *string
	// MaxTags refuses the tag with ErrTagLimit when the user already has this many; 0: no limit.
	MaxTags int
}

// TagPatch changes a tag: a nil Name leaves the name; Color applies only when Set.
type TagPatch struct {
	Name  *string
	Color Field[string]
}

// Field is one optional column of a patch: unchanged unless Set; Set with a nil Value clears it.
type Field[T any] struct {
	Set   bool
	Value *T
}

type tagRow struct {
	ID        uuid.UUID      `db:"id"`
	Name      string         `db:"name"`
	Color     sql.NullString `db:"color"`
	CreatedAt time.Time      `db:"created_at"`
}

func (r tagRow) tag() Tag {
	t := Tag{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
	if r.Color.Valid {
		c := r.Color.String
		t.Color = &c
	}
	return t
}

const tagColumns = `id, name, color, created_at`

// Tags returns all of the user's tags, by name.
func (s *Store) Tags(ctx context.Context, user uuid.UUID) ([]Tag, error) {
	var tags []Tag
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		const q = `SELECT ` + tagColumns + ` FROM tags WHERE user_uuid = $1 ORDER BY lower(name), id`
		var rows []tagRow
		if err := sqlx.SelectContext(ctx, tx, &rows, q, user); err != nil {
			return fmt.Errorf("db: tags: %w", err)
		}
		tags = make([]Tag, len(rows))
		for i, r := range rows {
			tags[i] = r.tag()
		}
		return nil
	})
	return tags, err
}

// Tag returns the user's tag id, or ErrNotFound.
func (s *Store) Tag(ctx context.Context, user, id uuid.UUID) (Tag, error) {
	var t Tag
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		var err error
		t, err = findTag(ctx, tx, user, id)
		return err
	})
	return t, err
}

func findTag(ctx context.Context, x *txn, user, id uuid.UUID) (Tag, error) {
	const q = `SELECT ` + tagColumns + ` FROM tags WHERE user_uuid = $1 AND id = $2`
	return getOne(ctx, x, "find tag", tagRow.tag, q, user, id)
}

// CreateTag creates a tag. A name the user already has (in any letter case) is ErrConflict; a
// user with in.MaxTags tags already gets ErrTagLimit.
func (s *Store) CreateTag(ctx context.Context, user uuid.UUID, in NewTag) (Tag, error) {
	var t Tag
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		if in.MaxTags > 0 {
			if err := createTagWithin(ctx, tx, user, in, now, &t); err != nil {
				return err
			}
		} else {
			const q = `INSERT INTO tags (user_uuid, name, color, created_at) VALUES ($1, $2, $3, $4)
				RETURNING ` + tagColumns
			var r tagRow
			if err := sqlx.GetContext(ctx, tx, &r, q, user, in.Name, in.Color, now); err != nil {
				return fmt.Errorf("db: create tag: %w", mapErr(err))
			}
			t = r.tag()
		}
		return notify(tx, user, now, change{KindTag, OpCreated, []uuid.UUID{t.ID}})
	})
	return t, err
}

// createTagWithin inserts the tag only while the user has fewer than in.MaxTags. The user's tag
// creations take turns on a transaction-scoped advisory lock, taken in a statement of its own so
// that the count, in the next statement's snapshot, sees every tag committed before: concurrent
// creations cannot pass the limit together. (The two-key form does not share the one-key space
// of the migrations' lock.)
func createTagWithin(ctx context.Context, tx *txn, user uuid.UUID, in NewTag, now time.Time, t *Tag) error {
	const lock = `SELECT pg_advisory_xact_lock(hashtext('taskgraph.tags'), hashtext($1::text))`
	if _, err := tx.ExecContext(ctx, lock, user); err != nil {
		return fmt.Errorf("db: create tag: lock: %w", err)
	}
	const q = `INSERT INTO tags (user_uuid, name, color, created_at)
		SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM tags WHERE user_uuid = $1) < $5
		RETURNING ` + tagColumns
	var r tagRow
	err := sqlx.GetContext(ctx, tx, &r, q, user, in.Name, in.Color, now, in.MaxTags)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrTagLimit
	case err != nil:
		return fmt.Errorf("db: create tag: %w", mapErr(err))
	}
	*t = r.tag()
	return nil
}

// UpdateTag applies p to the user's tag id: ErrNotFound if there is no such tag, ErrConflict if
// the new name is taken.
func (s *Store) UpdateTag(ctx context.Context, user, id uuid.UUID, p TagPatch) (Tag, error) {
	var t Tag
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		const q = `UPDATE tags SET
				name  = COALESCE($3, name),
				color = CASE WHEN $4 THEN $5 ELSE color END
			WHERE user_uuid = $1 AND id = $2
			RETURNING ` + tagColumns
		var err error
		if t, err = getOne(ctx, tx, "update tag", tagRow.tag, q, user, id, p.Name, p.Color.Set, p.Color.Value); err != nil {
			return err
		}
		return notify(tx, user, now, change{KindTag, OpUpdated, []uuid.UUID{id}})
	})
	return t, err
}

// DeleteTag deletes the user's tag id (and its place on tasks), or returns ErrNotFound. The tasks
// it was on are announced as updated.
func (s *Store) DeleteTag(ctx context.Context, user, id uuid.UUID) error {
	return s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		tasks, err := taggedTasks(ctx, tx, user, id)
		if err != nil {
			return err
		}
		const q = `DELETE FROM tags WHERE user_uuid = $1 AND id = $2`
		if err := execOne(ctx, tx, "delete tag", q, user, id); err != nil {
			return err
		}
		return notify(tx, user, now, change{KindTag, OpDeleted, []uuid.UUID{id}}, change{KindTask, OpUpdated, tasks})
	})
}

// taggedTasks returns the user's tasks that carry the tag: DeleteTag announces them as updated.
func taggedTasks(ctx context.Context, x sqlx.QueryerContext, user, tagID uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	const q = `SELECT task_id FROM task_tags WHERE user_uuid = $1 AND tag_id = $2 ORDER BY task_id`
	if err := sqlx.SelectContext(ctx, x, &ids, q, user, tagID); err != nil {
		return nil, fmt.Errorf("db: tagged tasks: %w", err)
	}
	return ids, nil
}

// execOne runs a statement that must touch exactly one row; none is ErrNotFound.
func execOne(ctx context.Context, x *txn, what, q string, args ...any) error {
	res, err := x.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("db: %s: %w", what, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("db: %s: %w", what, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
