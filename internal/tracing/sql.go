package tracing

import (
	"context"
	"database/sql/driver"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgraph/taskgraph/internal/pqconn"
)

// Connector wraps a lib/pq connector so that every round trip (a query, an exec, a prepare) is
// a client span named by its statement's first keyword ("SQL SELECT", "SQL BEGIN"). Neither the
// SQL text nor its arguments are recorded: the data layer interpolates typed values (the user's
// id) into some statements, and arguments are user data.
func (t *Tracing) Connector(c driver.Connector) driver.Connector {
	if t == nil {
		return c
	}
	return connector{Connector: c, tracer: t.Tracer}
}

type connector struct {
	driver.Connector
	tracer trace.Tracer
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		return conn, nil
	}
	return &tracedConn{pqConn: pc, tracer: c.tracer}, nil
}

// pqConn is lib/pq's connection, as the wrapper embeds it.
type pqConn = pqconn.Conn

type tracedConn struct {
	pqConn
	tracer trace.Tracer
}

// Unwrap is lib/pq's own connection, for code that needs it (database/sql's Conn.Raw).
func (c *tracedConn) Unwrap() driver.Conn { return c.pqConn }

func (c *tracedConn) start(ctx context.Context, query string) (context.Context, trace.Span) {
	op := keyword(query)
	return c.tracer.Start(ctx, "SQL "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.operation.name", op)))
}

func end(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "statement failed") // the error text may quote values
	}
	span.End()
}

func (c *tracedConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, span := c.start(ctx, q)
	rows, err := c.pqConn.QueryContext(ctx, q, args)
	end(span, err)
	return rows, err
}

func (c *tracedConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ctx, span := c.start(ctx, q)
	res, err := c.pqConn.ExecContext(ctx, q, args)
	end(span, err)
	return res, err
}

func (c *tracedConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	ctx, span := c.start(ctx, "PREPARE")
	stmt, err := c.pqConn.PrepareContext(ctx, q)
	end(span, err)
	return stmt, err
}

// keyword is the statement's first word, upper-cased and bounded: SELECT, BEGIN, WITH, ...
func keyword(q string) string {
	q = strings.TrimLeft(q, " \t\r\n(")
	n := 0
	for n < len(q) && n < 16 && (q[n] >= 'a' && q[n] <= 'z' || q[n] >= 'A' && q[n] <= 'Z') {
		n++
	}
	if n == 0 {
		return "OTHER"
	}
	return strings.ToUpper(q[:n])
}
