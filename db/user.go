package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
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
// such user exists. It implements auth.SubLookup.
func (s *Store) UserUUIDBySub(ctx context.Context, sub string) (uuid.UUID, bool, error) {
	const q = `SELECT uuid FROM "user" WHERE id = $1`
	var id uuid.UUID
	err := s.x.QueryRowxContext(ctx, q, sub).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("db: user by sub: %w", err)
	}
	return id, true, nil
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
	err := s.withTx(ctx, id, readOnly, func(tx *txn, _ time.Time) error {
		const q = `SELECT id, uuid, email, name FROM "user" WHERE uuid = $1`
		var err error
		u, err = getOne(ctx, tx, "user by uuid", userRow.user, q, id)
		return err
	})
	return u, err
}
