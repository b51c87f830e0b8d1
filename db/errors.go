package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// Sentinel errors of the data layer. Callers test them with errors.Is; the wrapped text never
// reaches a client.
var (
	// ErrNotFound: the row does not exist or belongs to another user (the two are indistinguishable).
	ErrNotFound = errors.New("not found")
	// ErrTagNotFound: a tag to put on a task does not exist or is another user's. It is an ErrNotFound.
	ErrTagNotFound = fmt.Errorf("tag %w", ErrNotFound)
	// ErrConflict: a uniqueness rule was broken (a tag name the user already has).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a value broke a check constraint that validation should have caught.
	ErrInvalid = errors.New("invalid value")
	// ErrInvalidCursor: a pagination cursor is malformed or was made for another ordering, filter or user.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrTagLimit: the user already has the most tags allowed (NewTag.MaxTags).
	ErrTagLimit = errors.New("tag limit reached")
)

// Canceled reports whether err ends a statement that was cancelled: the context's deadline
// passed or the client went away (database/sql, or lib/pq's cancel request), or PostgreSQL's
// statement_timeout (Store.StatementTimeout) fired.
func Canceled(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == pgQueryCanceled
}

// PostgreSQL error codes we translate (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
	pgQueryCanceled       = "57014" // statement_timeout, or a cancel request
)

// mapErr turns driver errors into the sentinels above, keeping the original for logs.
func mapErr(err error) error {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case pgUniqueViolation:
		return fmt.Errorf("%w: %s: %w", ErrConflict, pe.Constraint, err)
	case pgForeignKeyViolation:
		return fmt.Errorf("%w: %s: %w", ErrNotFound, pe.Constraint, err)
	case pgCheckViolation:
		return fmt.Errorf("%w: %s: %w", ErrInvalid, pe.Constraint, err)
	}
	return err
}
