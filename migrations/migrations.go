// Package migrations holds the database schema as goose SQL files embedded in the binary.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded migration files (for hashing them, e.g. to name a test template).
func FS() fs.FS { return files }

// lockID is this application's advisory lock key, so it does not contend with other goose users.
const lockID int64 = 0x7461736b67726168 // "taskgrah"

func newProvider(db *sql.DB) (*goose.Provider, error) {
	// Poll every second for up to 5 minutes: replicas starting together wait for the first one.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration. It holds a PostgreSQL session-level advisory lock while it
// runs, so several replicas may call it at once: one migrates, the others wait and find nothing to do.
func Up(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Pending reports how many migrations have not been applied yet.
func Pending(ctx context.Context, db *sql.DB) (int, error) {
	p, err := newProvider(db)
	if err != nil {
		return 0, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: status: %w", err)
	}
	n := 0
	for _, s := range st {
		if s.State == goose.StatePending {
			n++
		}
	}
	return n, nil
}

// Latest is the version of the newest embedded migration (its file name's number, e.g. "00004").
func Latest() string {
	names, _ := fs.Glob(files, "*.sql")
	latest := ""
	for _, n := range names {
		if v, _, ok := strings.Cut(n, "_"); ok && v > latest {
			latest = v
		}
	}
	return latest
}
