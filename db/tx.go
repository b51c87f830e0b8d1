package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// access is what a transaction may do.
type access bool

const (
	readOnly  access = false
	readWrite access = true
)

// txn is one transaction of the Store on one pooled session. Its prelude (see prelude) is not
// sent alone: it goes in the same simple-protocol message as the transaction's first statement,
// whose arguments are then written as literals (inline). It ends with a single message (COMMIT,
// preceded by what was queued with notify). So a transaction of one statement costs two round
// trips, and each further statement one. Statements go through its methods, which remember the
// first failure: a transaction that saw one is rolled back, never committed, even if the error
// was dropped on the way.
type txn struct {
	conn     *sqlx.Conn
	pending  string   // the prelude, until the first statement carries it
	open     bool     // BEGIN was sent and neither COMMIT nor ROLLBACK has succeeded since
	discard  bool     // close the session instead of returning it to the pool
	err      error    // the first statement that failed
	onCommit []string // statements sent in the COMMIT message, in order
	store    *Store
}

// prelude is the start of a transaction: BEGIN, the role, the user and the statement timeout, as
// simple-protocol statements that go in one message with the first statement. Its values are
// interpolated into the SQL text, which is safe only because each one is produced here from a
// typed value, never from client text: the access mode and AppRole are constants, the user is a
// uuid.UUID (String gives hex digits and dashes only) and the timeout a whole number of
// milliseconds. Everything is transaction-local (SET LOCAL), so nothing outlives the transaction
// on the session, which is what PgBouncer's transaction pooling requires.
//
// Each SET costs PostgreSQL 1–4 µs (bench/README.md, "PostgreSQL's share"); the role is left out
// only when the pool logs in as AppRole itself (appRole), which then cannot be anything else.
func prelude(mode access, user uuid.UUID, timeout time.Duration, appRole bool) string {
	var b strings.Builder
	b.Grow(160)
	if mode == readWrite {
		b.WriteString("BEGIN READ WRITE")
	} else {
		b.WriteString("BEGIN READ ONLY")
	}
	if !appRole {
		b.WriteString("; SET LOCAL ROLE " + AppRole)
	}
	if user != uuid.Nil {
		b.WriteString("; SET LOCAL app.user_uuid = '")
		b.WriteString(user.String())
		b.WriteString("'")
	}
	if ms := timeout.Milliseconds(); ms > 0 {
		b.WriteString("; SET LOCAL statement_timeout = ")
		b.WriteString(strconv.FormatInt(ms, 10))
	}
	return b.String()
}

// prelude is the Store's prelude for a transaction of user.
func (s *Store) prelude(mode access, user uuid.UUID) string {
	return prelude(mode, user, s.StatementTimeout, s.login.isAppRole())
}

// withTx runs fn in one transaction acting as user: the role is switched to AppRole and
// app.user_uuid is set for the transaction only, so RLS confines every statement to the user's
// rows. Reads run READ ONLY. now is captured once so that every timestamp written by the operation
// agrees. fn's error, or any failed statement, rolls the transaction back.
func (s *Store) withTx(ctx context.Context, user uuid.UUID, mode access, fn func(tx *txn, now time.Time) error) error {
	if user == uuid.Nil {
		return fmt.Errorf("db: no user for transaction")
	}
	return s.transact(ctx, user, mode, fn)
}

// asAppRole runs fn in a read-only transaction as AppRole with no user set: before
// authentication, when there is no user to act for yet (RLS then shows no row at all).
func (s *Store) asAppRole(ctx context.Context, fn func(tx *txn) error) error {
	return s.transact(ctx, uuid.Nil, readOnly, func(tx *txn, _ time.Time) error { return fn(tx) })
}

// transact runs one transaction (transactOnce). One that found its session broken before any of
// its statements ran (at the pool's checkout or its BEGIN message: the usual sign of a pooled
// session that died in a restart) is run once more on a fresh session: nothing of it reached
// PostgreSQL, so this holds for writes too, and the idle sessions, opened before the same fault,
// are dropped first. One that broke later is not run again (a write may have committed; a read
// may have handed rows to its caller). What fails because the database cannot be reached is
// ErrUnavailable.
func (s *Store) transact(ctx context.Context, user uuid.UUID, mode access, fn func(tx *txn, now time.Time) error) error {
	started := false
	run := func(tx *txn, now time.Time) error {
		started = true
		return fn(tx, now)
	}
	err := s.transactOnce(ctx, user, mode, run)
	if !Unavailable(err) {
		return err
	}
	s.dropIdle()
	if !started && ctx.Err() == nil {
		if err = s.transactOnce(ctx, user, mode, run); !Unavailable(err) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// dropIdle closes the pool's idle sessions: after one was found broken, the others, opened
// before the same fault, are likely broken too.
func (s *Store) dropIdle() {
	n := s.x.Stats().MaxOpenConnections
	if n <= 0 {
		return
	}
	s.x.SetMaxIdleConns(-1) // closes every idle session
	s.x.SetMaxIdleConns(n)
}

// transactOnce is one attempt of transact: user uuid.Nil sets no app.user_uuid.
func (s *Store) transactOnce(ctx context.Context, user uuid.UUID, mode access, fn func(tx *txn, now time.Time) error) error {
	conn, err := s.x.Connx(ctx)
	if err != nil {
		return fmt.Errorf("db: connect: %w", err)
	}
	t := &txn{conn: conn, pending: s.prelude(mode, user), store: s}
	defer t.close()
	now := s.now()
	if err := fn(t, now); err != nil {
		return err
	}
	if t.err != nil {
		return fmt.Errorf("db: a statement failed: %w", mapErr(t.err))
	}
	return t.commit(ctx)
}

// now reads the Store's clock as PostgreSQL keeps time: UTC, microseconds.
func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// notify queues pg_notify(channel, payload) for the COMMIT message: it costs no round trip, and
// listeners hear it only if the transaction commits (PostgreSQL delivers notifications at commit).
// channel and payload are quoted here; build them from the data layer's own typed values (ids,
// names of events), which keeps the interpolated text ours.
func (t *txn) notify(channel, payload string) {
	t.onCommit = append(t.onCommit, "SELECT pg_notify("+pq.QuoteLiteral(channel)+", "+pq.QuoteLiteral(payload)+")")
}

// commit sends the queued statements and COMMIT in one message. If one of them fails, PostgreSQL
// skips the rest, and close rolls back.
func (t *txn) commit(ctx context.Context) error {
	msg := "COMMIT"
	if len(t.onCommit) > 0 {
		msg = strings.Join(t.onCommit, "; ") + "; COMMIT"
	}
	if t.pending != "" { // no statement was sent: the transaction is begun and ended here
		if len(t.onCommit) == 0 {
			return nil
		}
		msg = t.pending + "; " + msg
		t.pending = ""
		t.open = true
	}
	if _, err := t.conn.ExecContext(ctx, msg); err != nil {
		return fmt.Errorf("db: commit: %w", mapErr(err))
	}
	t.open = false
	return nil
}

// rollbackTimeout bounds the ROLLBACK of a failed transaction, which runs even when the request's
// context is done (the session must not go back to the pool inside a transaction).
const rollbackTimeout = 5 * time.Second

// close ends the transaction if it is still open and returns the session to the pool; a session
// that cannot be rolled back is closed instead.
func (t *txn) close() {
	if t.open {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		_, err := t.conn.ExecContext(ctx, "ROLLBACK")
		cancel()
		if err != nil {
			t.discard = true
		}
	}
	if t.discard {
		_ = t.conn.Raw(func(any) error { return driver.ErrBadConn }) // database/sql discards it
	}
	_ = t.conn.Close()
}

func (t *txn) fail(err error) {
	if err != nil && t.err == nil {
		t.err = err
	}
}

// first is the statement q as it is sent: alone, or, for the transaction's first statement,
// after the prelude in the same message, its arguments written into it as literals. An argument
// that has no literal (errLiteral) sends the prelude alone first, and the statement as it is.
func (t *txn) first(ctx context.Context, q string, args []any) (string, []any) {
	if t.pending == "" {
		return q, args
	}
	p := t.pending
	t.pending = ""
	t.open = true // from now on: even a failed message may have begun the transaction
	in, err := inline(q, args)
	if err != nil {
		_, err := t.conn.ExecContext(ctx, p)
		t.fail(err)
		return q, args
	}
	return p + "; " + in, nil
}

// The methods below make a txn a sqlx.QueryerContext and sqlx.ExecerContext, recording failures.

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q, args = t.first(ctx, q, args)
	rows, err := t.conn.QueryContext(ctx, q, args...)
	t.fail(err)
	return rows, err
}

func (t *txn) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	q, args = t.first(ctx, q, args)
	rows, err := t.conn.QueryxContext(ctx, q, args...)
	t.fail(err)
	return rows, err
}

func (t *txn) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	q, args = t.first(ctx, q, args)
	row := t.conn.QueryRowxContext(ctx, q, args...)
	t.fail(row.Err())
	return row
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q, args = t.first(ctx, q, args)
	res, err := t.conn.ExecContext(ctx, q, args...)
	t.fail(err)
	return res, err
}
