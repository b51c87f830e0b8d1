package testkit

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
)

// BeginAs begins a transaction acting as role (db.AppRole, which testkit cannot import: db's own
// tests use testkit) with app.user_uuid set to user ("" for none), as the store's connections
// are set up. The caller commits or rolls it back.
func BeginAs(t testing.TB, x *sqlx.DB, role, user string) *sqlx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true)`, role, user); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	return tx
}
