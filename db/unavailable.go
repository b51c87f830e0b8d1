package db

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

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
