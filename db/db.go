// Package db is the PostgreSQL data layer: tasks and tags, each scoped to one user both in every
// statement and by row-level security.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver
)

// AppRole is the role every data transaction switches to (created by the migrations). It neither
// owns the tables nor bypasses RLS, so the policies apply whatever user the pool connects as.
const AppRole = "taskgraph_app"

// Open connects to PostgreSQL, sets pool limits suited to a small API server and checks the
// connection.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	x, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	x.SetMaxOpenConns(20)
	x.SetMaxIdleConns(10)
	x.SetConnMaxIdleTime(5 * time.Minute)
	x.SetConnMaxLifetime(30 * time.Minute)
	if err := x.PingContext(ctx); err != nil {
		_ = x.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return x, nil
}

// Store reads and writes tasks and tags. Every method that takes a user acts for that user only:
// another user's rows behave exactly as if they did not exist.
type Store struct {
	x *sqlx.DB
	// Now is the clock; tests may replace it. Each transaction reads it once.
	Now func() time.Time
	// StatementTimeout, when set, is each transaction's statement_timeout (SET LOCAL), so that
	// PostgreSQL itself stops a statement that outlives the request's deadline.
	StatementTimeout time.Duration
}

// NewStore returns a Store on the pool x.
func NewStore(x *sqlx.DB) *Store {
	return &Store{x: x, Now: time.Now}
}

// getOne reads the one row q selects (or returns) as a row struct R and converts it with to:
// ErrNotFound when there is no row, any other error mapped to the sentinels and prefixed with what.
func getOne[R, T any](ctx context.Context, x sqlx.QueryerContext, what string, to func(R) T, q string, args ...any) (T, error) {
	var r R
	err := sqlx.GetContext(ctx, x, &r, q, args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = ErrNotFound
	case err != nil:
		err = fmt.Errorf("db: %s: %w", what, mapErr(err))
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return to(r), nil
}

// statementTimeout is StatementTimeout as a statement_timeout value, or "" to keep the session's.
func (s *Store) statementTimeout() string {
	if s.StatementTimeout <= 0 {
		return ""
	}
	return fmt.Sprintf("%dms", max(s.StatementTimeout.Milliseconds(), 1))
}

// withTx runs fn in one transaction acting as user: the role is switched to AppRole and
// app.user_uuid is set for the transaction only, so RLS confines every statement to the user's rows.
// now is captured once so that every timestamp written by the operation agrees.
func (s *Store) withTx(ctx context.Context, user uuid.UUID, fn func(tx *sqlx.Tx, now time.Time) error) error {
	if user == uuid.Nil {
		return fmt.Errorf("db: no user for transaction")
	}
	tx, err := s.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit

	const q = `SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true),
		set_config('statement_timeout', coalesce(nullif($3, ''), current_setting('statement_timeout')), true)`
	if _, err := tx.ExecContext(ctx, q, AppRole, user.String(), s.statementTimeout()); err != nil {
		return fmt.Errorf("db: set user: %w", err)
	}
	now := s.Now().UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	if err := fn(tx, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", mapErr(err))
	}
	return nil
}
