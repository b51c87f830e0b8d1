package testkit

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// InsertTaggedTasks writes n tasks carrying a new tag for user straight in SQL (no events), each
// with a description of descLen characters, acting as appRole (see BeginAs), and returns the tag's
// id.
func InsertTaggedTasks(t testing.TB, x *sqlx.DB, appRole string, user uuid.UUID, n, descLen int) string {
	t.Helper()
	ctx := context.Background()
	tx := BeginAs(t, x, appRole, user.String())
	defer tx.Rollback()
	var tag string
	if err := tx.GetContext(ctx, &tag, `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'bulk', now()) RETURNING id`, user); err != nil {
		t.Fatal(err)
	}
	const q = `WITH t AS (
			INSERT INTO tasks (user_uuid, title, description, created_at, updated_at)
			SELECT $1, 'bulk ' || i, repeat('x', $3), now(), now() FROM generate_series(1, $2) i RETURNING id)
		INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT $1, id, $4 FROM t`
	if _, err := tx.ExecContext(ctx, q, user, n, descLen, tag); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tag
}
