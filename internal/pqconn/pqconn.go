// Package pqconn names what lib/pq's connection implements beyond driver.Conn, for the wrappers
// of it (tracing's spans, testkit's statement counts): a wrapper that embeds Conn keeps every
// optional interface database/sql looks for.
package pqconn

import "database/sql/driver"

// Conn is what lib/pq's connection implements beyond driver.Conn.
type Conn interface {
	driver.Conn
	driver.QueryerContext
	driver.ExecerContext
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}
