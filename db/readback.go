package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Reading changes back: a change event names rows by id (Notification); live loads them with
// these, as the user, so row-level security applies to what a subscriber is sent.

// TasksByID returns the user's tasks ids with their tags, in one statement; ids that are not (or
// no longer) the user's are absent from the map. It is how a change event loads its task.
func (s *Store) TasksByID(ctx context.Context, user uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Task, error) {
	out := make(map[uuid.UUID]Task, len(ids))
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		const q = `SELECT ` + taskColumns + `, ` + tagsColumn + ` FROM tasks t WHERE t.user_uuid = $1 AND t.id = ANY($2::uuid[])`
		rows, err := appendRows(ctx, tx, nil, true, q, []any{user, uuidArray(ids)})
		if err != nil {
			return fmt.Errorf("db: tasks by id: %w", err)
		}
		for _, r := range rows {
			t, err := r.task()
			if err != nil {
				return err
			}
			out[t.ID] = t
		}
		return nil
	})
	return out, err
}

// TagsByID returns the user's tags ids; ids that are not (or no longer) the user's are absent.
func (s *Store) TagsByID(ctx context.Context, user uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Tag, error) {
	out := make(map[uuid.UUID]Tag, len(ids))
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		const q = `SELECT ` + tagColumns + ` FROM tags WHERE user_uuid = $1 AND id = ANY($2::uuid[])`
		var rows []tagRow
		if err := sqlx.SelectContext(ctx, tx, &rows, q, user, uuidArray(ids)); err != nil {
			return fmt.Errorf("db: tags by id: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.tag()
		}
		return nil
	})
	return out, err
}
