package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// User is a row of Better Auth's "user" table as this application sees it.
type User struct {
	ID    string    // Better Auth's id (a token's sub)
	UUID  uuid.UUID // the application id
	Email string
	Name  string
}

type userRow struct {
	ID    string         `db:"id"`
	UUID  uuid.UUID      `db:"uuid"`
	Email string         `db:"email"`
	Name  sql.NullString `db:"name"`
}

func (r userRow) user() User {
	return User{ID: r.ID, UUID: r.UUID, Email: r.Email, Name: r.Name.String}
}

// UserUUIDBySub returns the application UUID of the Better Auth user sub. found is false when no
// such user exists. It implements auth.SubLookup. It runs as AppRole, which cannot read "user":
// the function taskgraph_user_uuid maps the one sub to its uuid (migration 00003).
func (s *Store) UserUUIDBySub(ctx context.Context, sub string) (uuid.UUID, bool, error) {
	var id uuid.NullUUID
	err := s.asAppRole(ctx, func(tx *sqlx.Tx) error {
		return tx.QueryRowxContext(ctx, `SELECT taskgraph_user_uuid($1)`, sub).Scan(&id)
	})
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("db: user by sub: %w", err)
	}
	return id.UUID, id.Valid, nil
}

// asAppRole runs fn in a read-only transaction as AppRole with no user set: before
// authentication, when withTx has no user to act for.
func (s *Store) asAppRole(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.x.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('role', $1, true)`, AppRole); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// EnsureUser creates the Better Auth "user" row id, or updates its email and name, and returns its
// application UUID. It is for the development user; Better Auth creates real users.
func (s *Store) EnsureUser(ctx context.Context, id, email, name string) (uuid.UUID, error) {
	const q = `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
		VALUES ($1, $2, $3, false, now(), now())
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, "updatedAt" = now()
		RETURNING uuid`
	var u uuid.UUID
	if err := s.x.QueryRowxContext(ctx, q, id, name, email).Scan(&u); err != nil {
		return uuid.Nil, fmt.Errorf("db: ensure user: %w", mapErr(err))
	}
	return u, nil
}

// UserByUUID returns the user whose application UUID is id, or ErrNotFound.
func (s *Store) UserByUUID(ctx context.Context, id uuid.UUID) (User, error) {
	var u User
	err := s.withTx(ctx, id, func(tx *sqlx.Tx, _ time.Time) error {
		// The view holds the signed-in user's row only (app.user_uuid); AppRole cannot read "user".
		const q = `SELECT id, uuid, email, name FROM taskgraph_current_user WHERE uuid = $1`
		var err error
		u, err = getOne(ctx, tx, "user by uuid", userRow.user, q, id)
		return err
	})
	return u, err
}
