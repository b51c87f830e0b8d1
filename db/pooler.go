package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrNoTransactions is DetectPooling's error when a connection cannot open a transaction, as
// behind PgBouncer's statement pooling, which the server cannot work through.
var ErrNoTransactions = errors.New("cannot open a transaction (behind a pooler in statement mode?)")

// Pooling is what DetectPooling saw of the way a URL reaches PostgreSQL.
type Pooling struct {
	// SharesSessions is true when one PostgreSQL session served two client connections that
	// were open at the same time: a pooler in transaction (or statement) mode, such as PgBouncer
	// with pool_mode = transaction. Anything a session keeps (LISTEN, a session-level advisory
	// lock, a plain SET) does not hold there.
	SharesSessions bool
	// Backends are the PostgreSQL session ids (pg_backend_pid) the two clients saw, first
	// client first.
	Backends [2][]int
}

// detectRounds is how many times each client asks for its session: a pooler that hands out idle
// server connections most recently used first (PgBouncer's default) shows itself in the first
// round; round robin may need a few.
const detectRounds = 4

// DetectPooling tells whether url's connections are PostgreSQL sessions of their own. It holds
// two client connections open at once and alternates between them, asking each for its backend
// process id, the second one inside a transaction: on a direct connection (or a session-mode
// pool) each client keeps one backend and the two differ; behind a transaction pooler the
// backend a client sees changes, or both see the same one.
func DetectPooling(ctx context.Context, url string) (Pooling, error) {
	var p Pooling
	conn, err := NewConnector(url)
	if err != nil {
		return p, err
	}
	pool := sql.OpenDB(conn)
	defer pool.Close()
	pool.SetMaxOpenConns(2)
	var clients [2]*sql.Conn
	for i := range clients {
		if clients[i], err = pool.Conn(ctx); err != nil {
			return p, fmt.Errorf("db: connect: %w", err)
		}
		defer clients[i].Close()
	}
	for range detectRounds {
		for i, c := range clients {
			pid, err := backendPID(ctx, c, i == 1)
			if err != nil {
				return p, err
			}
			p.Backends[i] = append(p.Backends[i], pid)
		}
	}
	p.SharesSessions = !onlyOne(p.Backends[0]) || !onlyOne(p.Backends[1]) || p.Backends[0][0] == p.Backends[1][0]
	return p, nil
}

// backendPID asks c for its PostgreSQL backend, in a transaction when inTx (a transaction pooler
// then hands it the server connection the other client has just released).
func backendPID(ctx context.Context, c *sql.Conn, inTx bool) (int, error) {
	var pid int
	if !inTx {
		if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return 0, fmt.Errorf("db: pg_backend_pid: %w", err)
		}
		return pid, nil
	}
	tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("db: %w: %v", ErrNoTransactions, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return 0, fmt.Errorf("db: pg_backend_pid: %w", err)
	}
	return pid, nil
}

func onlyOne(pids []int) bool {
	for _, p := range pids {
		if p != pids[0] {
			return false
		}
	}
	return true
}

// A transaction-mode pooler (PgBouncer's pool_mode = transaction) in front of DATABASE_URL is
// fine for requests: nothing is prepared by name and everything a transaction sets is SET LOCAL.
// What needs a PostgreSQL session of its own (the listener's LISTEN, the migrations' advisory
// lock) goes through DATABASE_LISTEN_URL, which serve refuses behind such a pooler and doctor
// checks. The checks below are the server's start-up's; their messages name the variables.

// SessionVariable names the variable sessionURL came from, for messages.
func SessionVariable(databaseURL, sessionURL string) string {
	if sessionURL == databaseURL {
		return "DATABASE_URL"
	}
	return "DATABASE_LISTEN_URL"
}

// RequirePooling is the start-up check: sessionURL has sessions of its own, and databaseURL,
// which may go through a transaction pooler, can open transactions. ownSessions tells whether
// databaseURL's connections are PostgreSQL sessions of their own too (no transaction pooler), so
// that Store.ReadJSON may keep statements prepared on them (Store.OwnSessions).
func RequirePooling(ctx context.Context, databaseURL, sessionURL string) (ownSessions bool, err error) {
	if err := requireSessions(ctx, databaseURL, sessionURL); err != nil || sessionURL == databaseURL {
		return err == nil, err // requireSessions has tried databaseURL's transactions too
	}
	p, err := DetectPooling(ctx, databaseURL)
	if err != nil {
		return false, poolingError("DATABASE_URL", err)
	}
	return !p.SharesSessions, nil
}

// requireSessions refuses a sessionURL behind a pooler that shares PostgreSQL sessions between
// clients (DetectPooling), saying which setting fixes it.
func requireSessions(ctx context.Context, databaseURL, sessionURL string) error {
	name := SessionVariable(databaseURL, sessionURL)
	p, err := DetectPooling(ctx, sessionURL)
	if err != nil {
		return poolingError(name, err)
	}
	if p.SharesSessions {
		return fmt.Errorf("%s goes through a pooler that shares PostgreSQL sessions between clients (%s; "+
			"e.g. PgBouncer with pool_mode = transaction): live updates (LISTEN) and the migrations' lock "+
			"need a session of their own: %s (README.md, Scaling out)", name, p.Describe(), SessionFix(name))
	}
	return nil
}

// poolingError is a DetectPooling failure as a message naming the variable and the fix.
func poolingError(name string, err error) error {
	if errors.Is(err, ErrNoTransactions) {
		return fmt.Errorf("%s: %w; every request is a transaction: with PgBouncer, set pool_mode = transaction (README.md, Scaling out)", name, err)
	}
	return fmt.Errorf("%s: cannot connect: %w", name, err)
}

// SessionFix is what to set when the URL named name shares sessions.
func SessionFix(name string) string {
	if name == "DATABASE_LISTEN_URL" {
		return "set DATABASE_LISTEN_URL to a direct connection to the database (not through the pooler)"
	}
	return "set DATABASE_LISTEN_URL to a direct connection to the same database (not through the pooler); DATABASE_URL may stay on the pooler"
}

// Describe says what gave a pooler away.
func (p Pooling) Describe() string {
	if p.Backends[0][0] == p.Backends[1][0] {
		return fmt.Sprintf("two connections open at once were served by the same PostgreSQL backend, %d", p.Backends[0][0])
	}
	return fmt.Sprintf("a connection was served by PostgreSQL backends %v and another by %v in turn", p.Backends[0], p.Backends[1])
}
