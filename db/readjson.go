package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ReadJSON runs one read statement as user (RLS on, READ ONLY) and returns its single text
// column: the compiled read path's statement, which builds the response's JSON in PostgreSQL.
// key names the statement (the same key always comes with the same SQL), so that a session can
// keep it prepared.
func (s *Store) ReadJSON(ctx context.Context, user uuid.UUID, key, query string, args ...any) ([]byte, error) {
	var out []byte
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		return tx.QueryRowxContext(ctx, query, args...).Scan(&out)
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}
