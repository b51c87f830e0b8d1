package pgwire_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/pgwire"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// proxied returns a pool that reaches a fresh database through a new proxy.
func proxied(t *testing.T) (*pgwire.Proxy, *sqlx.DB) {
	t.Helper()
	pu, p := testkit.NewProxiedDBURL(t)
	x, err := sqlx.Open("postgres", pu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	x.SetMaxOpenConns(1)
	return p, x
}

// measure resets the proxy, runs fn and returns what the proxy saw.
func measure(t *testing.T, p *pgwire.Proxy, fn func(ctx context.Context)) pgwire.Recording {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Reset()
	fn(ctx)
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	return p.Snapshot()
}

func TestRoundTripsAndStatementsOfLibPQ(t *testing.T) {
	t.Parallel()
	p, x := proxied(t)
	ctx := context.Background()
	if err := x.PingContext(ctx); err != nil { // opens the one connection
		t.Fatal(err)
	}

	// Without arguments lib/pq sends a simple Query: one round trip.
	rec := measure(t, p, func(ctx context.Context) {
		var n int
		if err := x.GetContext(ctx, &n, `SELECT 41 + 1 AS answer`); err != nil || n != 42 {
			t.Fatalf("got %d, %v", n, err)
		}
	})
	if rec.RoundTrips != 1 || rec.Connections != 0 || len(rec.Statements) != 1 {
		t.Fatalf("simple query: %+v", rec)
	}
	s := rec.Statements[0]
	if !s.Simple || s.SQL != `SELECT 41 + 1 AS answer` || s.RowCount != 1 || s.Tag != "SELECT 1" ||
		len(s.Columns) != 1 || s.Columns[0] != "answer" || *s.Rows[0][0] != "42" {
		t.Fatalf("simple statement recorded as %+v", s)
	}

	// With arguments: Parse/Describe/Sync, then Bind/Execute/Sync: two round trips.
	rec = measure(t, p, func(ctx context.Context) {
		var got []struct {
			N int     `db:"n"`
			S *string `db:"s"`
		}
		const q = `SELECT g AS n, CASE WHEN g = 2 THEN NULL ELSE $2::text END AS s FROM generate_series(1, $1::int) g`
		if err := x.SelectContext(ctx, &got, q, 3, "x"); err != nil || len(got) != 3 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	if rec.RoundTrips != 2 || len(rec.Statements) != 1 {
		t.Fatalf("query with arguments: %+v", rec)
	}
	s = rec.Statements[0]
	if s.Simple || !s.Parsed || s.Name != "" || len(s.Params) != 2 || s.RowCount != 3 || s.Tag != "SELECT 3" {
		t.Fatalf("extended statement recorded as %+v", s)
	}
	if v, err := s.Params[0].Text(); err != nil || v != "3" || s.Params[0].Type != 23 {
		t.Fatalf("first parameter: %q (type %d), %v", v, s.Params[0].Type, err)
	}
	if s.Rows[1][1] != nil || *s.Rows[2][1] != "x" || strings.Join(s.Columns, ",") != "n,s" {
		t.Fatalf("rows %v, columns %v", s.Rows, s.Columns)
	}

	// A transaction: BEGIN (1) + an exec with an argument (2) + COMMIT (1).
	rec = measure(t, p, func(ctx context.Context) {
		tx, err := x.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT set_config('app.user_uuid', $1, true)`, "u"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	})
	if rec.RoundTrips != 4 || len(rec.Statements) != 3 {
		t.Fatalf("transaction: %+v", rec)
	}
	if got := rec.Statements[0].Tag + " / " + rec.Statements[2].Tag; got != "BEGIN / COMMIT" {
		t.Fatalf("transaction tags %q", got)
	}

	// A named prepared statement is parsed once and then only bound: one round trip per execution.
	stmt, err := x.PreparexContext(ctx, `SELECT $1::int * 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	rec = measure(t, p, func(ctx context.Context) {
		for i := range 3 {
			var n int
			if err := stmt.GetContext(ctx, &n, i); err != nil || n != 2*i {
				t.Fatalf("got %d, %v", n, err)
			}
		}
	})
	// The Parse was sent by Prepare (before Reset): the first execution is its first use, the
	// others reuse it.
	if rec.RoundTrips != 3 || len(rec.Statements) != 3 || !rec.Statements[0].Parsed || rec.Statements[1].Parsed ||
		rec.Statements[0].Name == "" || rec.Statements[2].SQL != `SELECT $1::int * 2` {
		t.Fatalf("prepared statement: %+v", rec)
	}
}

// lib/pq asks for uuid and int2 results in binary; rows are recorded in text format all the same,
// so that a recorded id can be matched with a later parameter.
func TestBinaryResultColumnsAreRecordedAsText(t *testing.T) {
	t.Parallel()
	p, x := proxied(t)
	const id = "a2005dfd-c899-4fe9-bec1-3053710cdbe1"
	rec := measure(t, p, func(ctx context.Context) {
		var got struct {
			ID string `db:"id"`
			N  int16  `db:"n"`
			S  string `db:"s"`
		}
		if err := x.GetContext(ctx, &got, `SELECT $1::uuid AS id, $2::int2 AS n, 'x'::text AS s`, id, 3); err != nil {
			t.Fatal(err)
		}
	})
	row := rec.Statements[0].Rows[0]
	if *row[0] != id || *row[1] != "3" || *row[2] != "x" || rec.Statements[0].ColumnTypes[0] != 2950 {
		t.Fatalf("row %q %q %q, types %v", *row[0], *row[1], *row[2], rec.Statements[0].ColumnTypes)
	}
}

func TestErrorsAreAttributedAndConnectionsCounted(t *testing.T) {
	t.Parallel()
	p, x := proxied(t)
	rec := measure(t, p, func(ctx context.Context) {
		if _, err := x.ExecContext(ctx, `SELECT 1/$1::int`, 0); err == nil {
			t.Fatal("division by zero succeeded")
		}
		var n int
		if err := x.GetContext(ctx, &n, `SELECT 7`); err != nil || n != 7 {
			t.Fatalf("after an error: %d, %v", n, err)
		}
	})
	if rec.Connections != 1 {
		t.Fatalf("connections %d, want the pool's first one", rec.Connections)
	}
	if len(rec.Statements) != 2 || !strings.HasPrefix(rec.Statements[0].Err, "22012: ") || rec.Statements[1].Err != "" {
		t.Fatalf("statements %+v", rec.Statements)
	}
}

func TestRewriteURLRefusesTLS(t *testing.T) {
	t.Parallel()
	p, err := pgwire.Listen("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.RewriteURL("postgres://u@h:5432/d?sslmode=require"); err == nil {
		t.Fatal("sslmode=require accepted")
	}
	got, err := p.RewriteURL("postgres://u@h:5432/d?x=1")
	if err != nil || !strings.Contains(got, p.Addr()) || !strings.Contains(got, "sslmode=disable") {
		t.Fatalf("rewrote to %q, %v", got, err)
	}
}

func TestParamTextDecodesBinary(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    pgwire.Param
		want string
	}{
		{pgwire.Param{Value: []byte("plain")}, "plain"},
		{pgwire.Param{Binary: true, Type: 23, Value: []byte{0xff, 0xff, 0xff, 0xfe}}, "-2"},
		{pgwire.Param{Binary: true, Type: 16, Value: []byte{1}}, "true"},
		{pgwire.Param{Binary: true, Type: 2950, Value: make([]byte, 16)}, "00000000-0000-0000-0000-000000000000"},
		{pgwire.Param{Binary: true, Type: 1184, Value: []byte{0, 0, 0, 0, 0, 0, 0, 1}}, "2000-01-01 00:00:00.000001Z"},
	} {
		if got, err := c.p.Text(); err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.p, got, err, c.want)
		}
	}
	if _, err := (pgwire.Param{Binary: true, Type: 1009, Value: []byte{1}}).Text(); err == nil {
		t.Error("binary text[] decoded")
	}
	if _, err := (pgwire.Param{Null: true}).Text(); err == nil {
		t.Error("NULL has text")
	}
}

func TestSplitStatementsAndPrepared(t *testing.T) {
	got := pgwire.SplitStatements("BEGIN READ ONLY; SET LOCAL a.b = 'x;y'; PREPARE tg_1 AS SELECT $1 || ';' -- ; no\n, $$;$$, \"a;b\" /* ; */\n; EXECUTE tg_1('it''s;'); COMMIT;")
	want := []string{"BEGIN READ ONLY", "SET LOCAL a.b = 'x;y'", "PREPARE tg_1 AS SELECT $1 || ';' -- ; no\n, $$;$$, \"a;b\" /* ; */", "EXECUTE tg_1('it''s;')", "COMMIT"}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statement %d: %q, want %q", i, got[i], want[i])
		}
	}
	if n := pgwire.PreparedName(got[2]); n != "tg_1" {
		t.Fatalf("prepared name %q", n)
	}
	if n := pgwire.PreparedName(got[3]); n != "" {
		t.Fatalf("EXECUTE taken for PREPARE: %q", n)
	}
}
