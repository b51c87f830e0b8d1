package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/pgwire"
)

func text(s string) *string { return &s }

// A captured create: the server's second INSERT binds the id the first one returned. The replay
// must take that id from the new row (\gset), bind what the client sent as variables, and write
// NULLs as NULL.
func TestRenderReplaysServerProducedValuesWithGset(t *testing.T) {
	const user, newID = "24c9e15e-52af-c47c-225b-757e7bee1f9d", "a2005dfd-c899-4fe9-bec1-3053710cdbe1"
	rec := pgwire.Recording{RoundTrips: 8, Statements: []pgwire.Statement{
		{SQL: "BEGIN READ WRITE", Simple: true, Tag: "BEGIN"},
		{SQL: "SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true)", Parsed: true,
			Params:  []pgwire.Param{{Value: []byte("taskgraph_app")}, {Value: []byte(user)}},
			Columns: []string{"set_config", "set_config"}, RowCount: 1, Rows: [][]*string{{text("taskgraph_app"), text(user)}}},
		{SQL: "INSERT INTO tasks (user_uuid, title, description)\n  VALUES ($1, $2, $3) RETURNING id, title", Parsed: true,
			Params:  []pgwire.Param{{Value: []byte(user)}, {Value: []byte("Write it")}, {Null: true}},
			Columns: []string{"id", "title"}, RowCount: 1, Rows: [][]*string{{text(newID), text("Write it")}}},
		{SQL: "INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT $1, $2, id FROM tags WHERE id = ANY($3::uuid[])", Parsed: true,
			Params: []pgwire.Param{{Value: []byte(user)}, {Value: []byte(newID)}, {Value: []byte("{1,2}")}}},
		{SQL: "COMMIT", Simple: true, Tag: "COMMIT"},
	}}
	s, err := scriptFromCapture("create", rec)
	if err != nil {
		t.Fatal(err)
	}
	got, defs, err := s.render("b0_", "extended", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `-- create
BEGIN READ WRITE;
SELECT set_config('role', :b0_s1_1, true), set_config('app.user_uuid', :b0_s1_2, true);
INSERT INTO tasks (user_uuid, title, description) VALUES (:b0_s2_1, :b0_s2_2, NULL) RETURNING id, title \gset b0_r2_
INSERT INTO task_tags (user_uuid, task_id, tag_id) SELECT :b0_s3_1, :b0_r2_id, id FROM tags WHERE id = ANY(:b0_s3_3::uuid[]);
COMMIT;
`
	if got != want {
		t.Fatalf("script:\n%s\nwant:\n%s", got, want)
	}
	wantDefs := []string{"b0_s1_1=taskgraph_app", "b0_s1_2=" + user, "b0_s2_1=" + user, "b0_s2_2=Write it",
		"b0_s3_1=" + user, "b0_s3_3={1,2}"}
	if !slices.Equal(defs, wantDefs) {
		t.Fatalf("defines %q, want %q", defs, wantDefs)
	}
}

// A transaction that opens with one simple query of several statements is replayed in simple mode:
// that query as one compound command, the other statements with their values as literals.
func TestRenderSimpleModeKeepsCompoundQueriesWhole(t *testing.T) {
	const user, newID = "24c9e15e-52af-c47c-225b-757e7bee1f9d", "a2005dfd-c899-4fe9-bec1-3053710cdbe1"
	rec := pgwire.Recording{Statements: []pgwire.Statement{
		{SQL: "BEGIN READ WRITE; SET LOCAL ROLE taskgraph_app; SET LOCAL app.user_uuid = '" + user + "'", Simple: true, Tag: "BEGIN"},
		{SQL: "INSERT INTO tasks (user_uuid, title, description) VALUES ($1, $2, $3) RETURNING id", Parsed: true,
			Params:  []pgwire.Param{{Value: []byte(user)}, {Value: []byte("Don't stop")}, {Null: true}},
			Columns: []string{"id"}, RowCount: 1, Rows: [][]*string{{text(newID)}}},
		{SQL: "SELECT $1::uuid", Parsed: true, Params: []pgwire.Param{{Value: []byte(newID)}}},
		{SQL: "COMMIT", Simple: true, Tag: "COMMIT"},
	}}
	if got := protocolOf([]pgwire.Recording{rec}); got != "simple" {
		t.Fatalf("protocol %s, want simple", got)
	}
	s, err := scriptFromCapture("create", rec)
	if err != nil {
		t.Fatal(err)
	}
	got, defs, err := s.render("b0_", "simple", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `-- create
BEGIN READ WRITE \; SET LOCAL ROLE taskgraph_app \; SET LOCAL app.user_uuid = '` + user + `';
INSERT INTO tasks (user_uuid, title, description) VALUES ('` + user + `', 'Don''t stop', NULL) RETURNING id \gset b0_r1_
SELECT ':b0_r1_id'::uuid;
COMMIT;
`
	if got != want || len(defs) != 0 {
		t.Fatalf("script:\n%s\nwant:\n%s\ndefines %q", got, want, defs)
	}
}

// The compiled read path's one message (ReadJSON: PREPARE once per session, then EXECUTE with
// literals, in one simple Query) is replayed as such: each pgbench client prepares every
// statement the scripts execute once, from the PREPAREs the proxy saw (warm-up included), and
// each request is the message without its PREPARE and DEALLOCATE.
func TestRenderPreparedMessages(t *testing.T) {
	prepared := map[string]string{
		"tg_7": "PREPARE tg_7 AS SELECT $1 -- why\n || ';'",
		"tg_9": "PREPARE tg_9 AS SELECT  json_build_object('a', 'x  y')::text",
	}
	first := pgwire.Recording{Prepared: prepared, Statements: []pgwire.Statement{
		{SQL: "BEGIN READ ONLY; SET LOCAL app.user_uuid = 'u'; EXECUTE tg_7('a;b', NULL); COMMIT", Simple: true}}}
	second := pgwire.Recording{Prepared: prepared, Statements: []pgwire.Statement{
		{SQL: "DEALLOCATE tg_3; BEGIN READ ONLY; SET LOCAL app.user_uuid = 'v'; " + prepared["tg_9"] + "; EXECUTE tg_9; COMMIT", Simple: true}}}
	if got := protocolOf([]pgwire.Recording{first, second}); got != "simple" {
		t.Fatalf("protocol %s", got)
	}
	var scripts []pgScript
	for _, rec := range []pgwire.Recording{first, second} {
		s, err := scriptFromCapture("read", rec)
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, s)
	}
	prepares, err := executed(scripts)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := scripts[1].render("b1_", "simple", prepares)
	if err != nil {
		t.Fatal(err)
	}
	want := `-- read
\if :tg_prepared = 0
PREPARE tg_7 AS SELECT $1 || ';';
PREPARE tg_9 AS SELECT json_build_object('a', 'x  y')::text;
\set tg_prepared 1
\endif
BEGIN READ ONLY \; SET LOCAL app.user_uuid = 'v' \; EXECUTE tg_9 \; COMMIT;
`
	if got != want {
		t.Fatalf("script:\n%s\nwant:\n%s", got, want)
	}
	scripts[0].prepared = nil
	if _, err := executed(scripts[:1]); err == nil {
		t.Fatal("an EXECUTE of a statement never seen prepared was accepted")
	}
}

func TestScriptFromCaptureRefusesFailedStatements(t *testing.T) {
	_, err := scriptFromCapture("x", pgwire.Recording{Statements: []pgwire.Statement{{SQL: "SELECT 1/0", Simple: true, Err: "22012: division by zero"}}})
	if err == nil || !strings.Contains(err.Error(), "22012") {
		t.Fatalf("err = %v", err)
	}
}

func TestProtocolFollowsTheServer(t *testing.T) {
	parsed := pgwire.Recording{Statements: []pgwire.Statement{{SQL: "BEGIN", Simple: true}, {SQL: "SELECT $1", Parsed: true}}}
	reused := pgwire.Recording{Statements: []pgwire.Statement{{SQL: "SELECT $1", Name: "s1", Parsed: false}}}
	if got := protocolOf([]pgwire.Recording{parsed}); got != "extended" {
		t.Errorf("unnamed, parsed each time: %s", got)
	}
	if got := protocolOf([]pgwire.Recording{parsed, reused}); got != "prepared" {
		t.Errorf("reused prepared statements: %s", got)
	}
}

func TestParsePgbench(t *testing.T) {
	out := `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: multiple scripts
scaling factor: 1
query mode: prepared
number of clients: 20
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 44179
number of failed transactions: 0 (0.000%)
latency average = 2.263 ms
initial connection time = 12.345 ms
tps = 8835.123456 (without initial connection time)
SQL script 1: a0.sql
`
	r, err := parsePgbench(out)
	if err != nil || r.TPS != 8835.123456 || r.LatencyAvg != 2.263 || r.Failed != 0 {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := parsePgbench("pgbench: error: client 3 script 0 aborted in command 3 query 0: ERROR: x\n" + out); err == nil {
		t.Fatal("an aborted client passed")
	}
	if _, err := parsePgbench("pgbench: error: connection to server failed\n"); err == nil {
		t.Fatal("no tps passed")
	}
}
