package db

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// inline replaces placeholders only outside strings, identifiers and comments, and refuses one
// without its argument.
func TestInlineReplacesOnlyPlaceholders(t *testing.T) {
	t.Parallel()
	q := `SELECT '$1', "a$1", $$ $1 $$, $x$ $2 $x$, a$1, E'\' $1', $1 -- $2
	/* $2 */ , $2::int, $10`
	args := make([]any, 10)
	for i := range args {
		args[i] = i + 1
	}
	got, err := inline(q, args)
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT '$1', "a$1", $$ $1 $$, $x$ $2 $x$, a$1, E'\' $1', '1' -- $2
	/* $2 */ , '2'::int, '10'
`
	if got != want {
		t.Fatalf("inline:\n%s\nwant\n%s", got, want)
	}
	if _, err := inline(`SELECT $3`, []any{1, 2}); err == nil {
		t.Fatal("a placeholder past the arguments was accepted")
	}
	// What could end or swallow the statements after it in the message is refused.
	for _, q := range []string{`SELECT 1; SELECT 2`, `SELECT 'x`, `SELECT "x`, `SELECT 1 /* x`, `SELECT /* /* */ */ 1`, `SELECT $a$ x`} {
		if got, err := inline(q, []any{1}); err == nil {
			t.Fatalf("%q was accepted as %q", q, got)
		}
	}
	if got, err := inline(`SELECT $1 -- the end`, []any{1}); err != nil || got != "SELECT '1' -- the end\n" {
		t.Fatalf("a trailing comment: %q, %v", got, err)
	}
	if _, err := literals([]any{"a\x00b"}); !errors.Is(err, errLiteral) {
		t.Fatalf("a NUL byte: %v", err)
	}
	if _, err := literals([]any{[]byte("x")}); !errors.Is(err, errLiteral) {
		t.Fatalf("bytes: %v", err)
	}
}

// Every value the data layer sends reads back through a literal exactly as it does through a
// parameter: hostile text included.
func TestLiteralsReadBackAsParametersDo(t *testing.T) {
	t.Parallel()
	x := testkit.NewDB(t)
	ctx := context.Background()
	desc := "it's"
	prio := PriorityHigh
	var nilTime *time.Time
	values := []any{
		`'; DROP TABLE tasks; --`, `back\slash\' and '' quotes`, "ünïcødé ✓", "", desc, &desc,
		uuid.MustParse("3d517fe6-ebab-7b8c-fcf9-8db6259c8a59"), 42, int64(-7), prio, &prio, true, false, 1.5,
		time.Date(2026, 12, 7, 16, 30, 1, 123456000, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
		nilTime, nil, pq.Int64Array{1, 4}, uuidArray([]uuid.UUID{uuid.Nil}), pq.StringArray{`a"b`, `c,d`, `e\f`, "NULL"},
	}
	for _, v := range values {
		var viaParam, viaLiteral *string
		if err := x.QueryRowContext(ctx, `SELECT $1::text`, v).Scan(&viaParam); err != nil {
			t.Fatalf("%#v as a parameter: %v", v, err)
		}
		q, err := inline(`SELECT $1::text`, []any{v})
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if err := x.QueryRowContext(ctx, q).Scan(&viaLiteral); err != nil {
			t.Fatalf("%#v as %s: %v", v, q, err)
		}
		if (viaParam == nil) != (viaLiteral == nil) || viaParam != nil && *viaParam != *viaLiteral {
			t.Fatalf("%#v: parameter %v, literal %v (%s)", v, orNULL(viaParam), orNULL(viaLiteral), q)
		}
	}
	// Types resolve from the context, as a parameter's do.
	q, err := inline(`SELECT $1 + 1, $2 = ANY($3::smallint[]), $4::timestamptz < $5`, []any{41, 3, pq.Int64Array{3}, time.Unix(0, 0), time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var in, before bool
	if err := x.QueryRowContext(ctx, q).Scan(&n, &in, &before); err != nil || n != 42 || !in || !before {
		t.Fatalf("%s: %d %v %v %v", q, n, in, before, err)
	}
	if strings.Contains(q, "$") {
		t.Fatalf("left a placeholder: %s", q)
	}
}

func orNULL(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return *s
}

// No value, however hostile, makes an inlined statement more than the one statement it was, nor
// leaves a quote or comment open that would swallow what follows it in the message.
func FuzzInlineStaysOneStatement(f *testing.F) {
	for _, s := range []string{"", "'", "';--", `\'; COMMIT; --`, "$$", "$a$", "/*", "*/", "\"", "E'\\'", "ünï'cø;de"} {
		f.Add(s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		q, err := inline(`SELECT $1::text, $2 -- $1`+"\n"+`, '$1', $1`, []any{s, n})
		if errors.Is(err, errLiteral) && strings.IndexByte(s, 0) >= 0 {
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if _, err := statement(q, func(int) (string, bool) { return "", false }); err != nil {
			t.Fatalf("%q became %q: %v", s, q, err)
		}
	})
}
