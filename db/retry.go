package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// ErrUnavailable: PostgreSQL could not be reached, or the session broke under the statement (a
// restart, a failover, a killed backend). The client is told to retry later
// (DATABASE_UNAVAILABLE); the request itself was fine.
var ErrUnavailable = errors.New("the database is unavailable")

// Unavailable reports whether err says that the connection, not the statement, failed: the
// driver's bad connection, a socket error or end of stream, PostgreSQL's connection exceptions
// (08...) and shutdowns (57P01..57P03).
func Unavailable(err error) bool {
	if err == nil || Canceled(err) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code.Class() == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
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
