package testkit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/pqconn"
)

// CountingDB opens url through a driver that counts every statement sent to PostgreSQL
// (queries, execs, prepares and BEGINs), for tests that count work instead of timing it.
func CountingDB(t testing.TB, url string) (*sqlx.DB, *atomic.Int64) {
	t.Helper()
	conn, err := pq.NewConnector(url)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	n := &atomic.Int64{}
	x := sqlx.NewDb(sql.OpenDB(CountingConnector(conn, n)), "postgres")
	t.Cleanup(func() { _ = x.Close() })
	return x, n
}

// CountingConnector wraps a lib/pq connector (e.g. db.NewConnector's, configured as the server's
// pool is) so that every statement it sends adds one to n.
func CountingConnector(c driver.Connector, n *atomic.Int64) driver.Connector {
	return countingConnector{c, n}
}

type countingConnector struct {
	driver.Connector
	n *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{pqConn: conn.(pqConn), n: c.n}, nil
}

// pqConn is lib/pq's connection, as the wrapper embeds it.
type pqConn = pqconn.Conn

type countingConn struct {
	pqConn
	n *atomic.Int64
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.pqConn.QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.pqConn.ExecContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.pqConn.PrepareContext(ctx, q)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.n.Add(1)
	return c.pqConn.BeginTx(ctx, opts)
}
