// Package db is the PostgreSQL data layer: tasks and tags, each scoped to one user both in every
// statement and by row-level security.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// AppRole is the role every data transaction switches to (created by the migrations). It neither
// owns the tables nor bypasses RLS, so the policies apply whatever user the pool connects as.
const AppRole = "taskgraph_app"

// Options configure the pool (Open). A Store's per-transaction settings are its own fields.
type Options struct {
	// MaxConns is the pool size: at most this many PostgreSQL sessions, all kept open once made,
	// so that a busy server never closes and reopens them. 0 means DefaultMaxConns().
	MaxConns int
	// WrapConnector, when set, wraps the driver (tracing's spans per round trip).
	WrapConnector func(driver.Connector) driver.Connector
}

// DefaultMaxConns is the pool size when none is configured: four sessions per core the Go runtime
// may use. A request holds its session only while its statements run, so a few per core keep
// PostgreSQL busy without queueing many backends on the same cores.
func DefaultMaxConns() int { return 4 * runtime.GOMAXPROCS(0) }

// Open connects to PostgreSQL with a pool of opts.MaxConns sessions that are kept open (idle as
// many as open, no idle timeout: a session is only replaced after an hour, or when it breaks),
// and checks the connection.
//
// A statement with arguments goes out in one round trip (lib/pq's binary_parameters: Parse, Bind,
// Describe, Execute and Sync in one message, on the unnamed statement) instead of two. Nothing is
// prepared by name, so the pool works unchanged through PgBouncer in transaction mode. The option
// also makes lib/pq send []byte arguments in binary format; the data layer passes none (ids,
// times and arrays go as text).
func Open(ctx context.Context, url string, opts Options) (*sqlx.DB, error) {
	pqc, err := NewConnector(url)
	if err != nil {
		return nil, err
	}
	var conn driver.Connector = pqc
	if opts.WrapConnector != nil {
		conn = opts.WrapConnector(conn)
	}
	x := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	n := opts.MaxConns
	if n <= 0 {
		n = DefaultMaxConns()
	}
	x.SetMaxOpenConns(n)
	x.SetMaxIdleConns(n)
	x.SetConnMaxIdleTime(0)
	x.SetConnMaxLifetime(time.Hour)
	if err := x.PingContext(ctx); err != nil {
		_ = x.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return x, nil
}

// NewConnector is the driver as Open configures it (binary_parameters on), for tests that wrap
// it (e.g. to count statements) but must talk to PostgreSQL exactly as the server does.
func NewConnector(url string) (*pq.Connector, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	cfg.BinaryParameters = true
	conn, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	return conn, nil
}

// Store reads and writes tasks and tags. Every method that takes a user acts for that user only:
// another user's rows behave exactly as if they did not exist.
type Store struct {
	x *sqlx.DB
	// Now is the clock; tests may replace it. Each transaction reads it once.
	Now func() time.Time
	// StatementTimeout, when positive, bounds each statement of every transaction (SET LOCAL
	// statement_timeout, so it ends with the transaction); 0 leaves the server's setting.
	StatementTimeout time.Duration
	// OwnSessions says that every connection of the pool is a PostgreSQL session of its own (no
	// transaction pooler in between, see DetectPooling): ReadJSON then keeps its statements
	// prepared on each session. False, the default, is right everywhere, only slower.
	OwnSessions bool

	sessions   sessions    // what ReadJSON has prepared on each session
	unprepared atomic.Bool // a session lacked a statement it had prepared: prepare no more
	login      loginRole   // whether the pool's login role is AppRole itself
	// LogicalFeed, set when live updates read the WAL (wal_level=logical, package live), makes
	// write transactions send no NOTIFY: nothing in a writer's commit waits for live updates.
	LogicalFeed bool
}

// CheckLoginRole looks once at the role the pool logs in as (see loginRole): when it is AppRole
// itself, transactions stop switching to it. serve calls it at start-up.
func (s *Store) CheckLoginRole(ctx context.Context) error {
	return s.login.check(ctx, s.x, AppRole)
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
