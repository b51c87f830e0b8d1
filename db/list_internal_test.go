package db

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// Every walk step must be an index seek in the order the index already has: no Sort node, for
// every field, direction, walk direction and cursor position (none, on a key, on a NULL).
func TestEveryWalkStepReadsAnIndexInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := testkit.NewDB(t)
	user := testkit.CreateUser(t, x, "sub", "e@example.com", "N")
	values := map[SortField]string{
		SortCreatedAt: "2026-01-01T00:00:00Z", SortUpdatedAt: "2026-01-01T00:00:00Z",
		SortDueAt: "2026-01-01T00:00:00Z", SortPriority: "2", SortTitle: "m",
	}
	for field, sc := range sortColumns {
		cursors := []*cursor{nil, {Value: ptr(values[field]), ID: uuid.New()}}
		if sc.nullable {
			cursors = append(cursors, &cursor{ID: uuid.New()})
		}
		for _, desc := range []bool{false, true} {
			for _, backward := range []bool{false, true} {
				for _, c := range cursors {
					for _, seg := range segments(walk{sortColumn: sc, desc: desc, backward: backward, from: c}) {
						for _, withTags := range []bool{false, true} {
							stmt, args := seg.statement(user, TaskFilter{}, 21, withTags)
							plan := explain(t, ctx, x, user, stmt, args)
							if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index") {
								t.Errorf("%s desc=%v backward=%v cursor=%+v:\n%s\n%s", field, desc, backward, c, stmt, plan)
							}
						}
					}
				}
			}
		}
	}
}

// explain returns the plan of stmt as the data layer runs it (app role, user set). Sequential
// and bitmap scans are disabled because the test tables are tiny: a missing index then shows as a Sort.
func explain(t *testing.T, ctx context.Context, x *sqlx.DB, user uuid.UUID, stmt string, args []any) string {
	t.Helper()
	tx, err := x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	const q = `SELECT set_config('role', $1, true), set_config('app.user_uuid', $2, true), set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`
	if _, err := tx.ExecContext(ctx, q, AppRole, user.String()); err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := tx.SelectContext(ctx, &lines, "EXPLAIN (COSTS OFF) "+stmt, args...); err != nil {
		t.Fatalf("explain %s: %v", stmt, err)
	}
	return strings.Join(lines, "\n")
}

func ptr[T any](v T) *T { return &v }

// encodeCursor must write exactly what base64url(json.Marshal(cursor)) writes.
func TestEncodeCursorIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, v := range []*string{nil, ptr("2026-01-01T00:00:00.123456Z"), ptr("3"), ptr(`a "title" \ with <b> & é`),
		ptr("tab\there"), ptr(""), ptr("Fix the kitchen sink before Friday"), ptr("\u2028")} {
		c := cursor{Bind: "A1b2-C3d4_E5f6G7h8I9j0", Value: v, ID: uuid.New()}
		b, _ := json.Marshal(c)
		if got, want := encodeCursor(c), base64.RawURLEncoding.EncodeToString(b); got != want {
			t.Errorf("value %q: %s, want %s", deref(v), got, want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
