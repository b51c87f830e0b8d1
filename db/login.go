package db

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// loginRole is whether the pool logs in as AppRole itself, which makes each transaction's
// SET LOCAL ROLE redundant: a session whose session user is AppRole, a role that is neither
// superuser nor BYPASSRLS and a member of no other role, can only ever act as AppRole (SET ROLE
// reaches the session user's roles only, RESET ROLE goes back to it), through a transaction
// pooler too, whose sessions all belong to that login. Until CheckLoginRole says so, the role is
// set in every transaction.
type loginRole struct{ app atomic.Bool }

func (l *loginRole) check(ctx context.Context, x *sqlx.DB, appRole string) error {
	var ok bool
	err := x.QueryRowContext(ctx, `SELECT r.rolname = $1 AND NOT r.rolsuper AND NOT r.rolbypassrls
		AND NOT EXISTS (SELECT FROM pg_auth_members m WHERE m.member = r.oid)
		FROM pg_roles r WHERE r.rolname = session_user`, appRole).Scan(&ok)
	if err != nil {
		return fmt.Errorf("db: login role: %w", err)
	}
	l.app.Store(ok)
	return nil
}

func (l *loginRole) isAppRole() bool { return l.app.Load() }
