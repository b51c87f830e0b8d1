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
