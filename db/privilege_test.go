package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// asApp runs fn in a transaction as the app role with app.user_uuid set to user ("" for none), as
// the store does, and rolls it back.
func asApp(t *testing.T, x *sqlx.DB, user string, fn func(tx *sqlx.Tx)) {
	t.Helper()
	tx := testkit.BeginAs(t, x, db.AppRole, user)
	defer tx.Rollback()
	fn(tx)
}

func isPermissionDenied(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "42501"
}

// TestAppRoleSeesOnlyItsOwnUser: the app role reads no column of "user" (nor any other Better Auth
// table); through taskgraph_current_user it sees the signed-in user's row and nothing else, also
// under a query that adds a leaky function; taskgraph_user_uuid maps one sub to one uuid, whatever
// the caller puts on its search path.
func TestAppRoleSeesOnlyItsOwnUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := testkit.NewDB(t)
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	// Better Auth's other tables get no grant to the app role either; and a leaky function: it
	// records every email it is shown (as its owner, so the app role may call it).
	for _, q := range []string{
		`CREATE TABLE session (id text PRIMARY KEY, token text NOT NULL, "userId" text NOT NULL REFERENCES "user"(id))`,
		`INSERT INTO session VALUES ('s', 'secret', 'sub-b')`,
		`CREATE TABLE seen (email text)`,
		`CREATE FUNCTION leak(e text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 SECURITY DEFINER AS $$
			BEGIN INSERT INTO seen VALUES (e); RETURN true; END $$`,
		`GRANT EXECUTE ON FUNCTION leak(text) TO taskgraph_app`,
		`GRANT SELECT ON seen TO taskgraph_app`,
	} {
		if _, err := x.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	for _, q := range []string{
		`SELECT id FROM "user"`, `SELECT uuid FROM "user"`, `SELECT email FROM "user"`, `SELECT name FROM "user"`,
		`SELECT count(*) FROM "user"`, `SELECT token FROM session`,
	} {
		asApp(t, x, a.String(), func(tx *sqlx.Tx) {
			if _, err := tx.ExecContext(ctx, q); !isPermissionDenied(err) {
				t.Errorf("as the app role, %s: %v, want permission denied", q, err)
			}
		})
	}

	for _, tc := range []struct {
		user string
		want []uuid.UUID
	}{{a.String(), []uuid.UUID{a}}, {b.String(), []uuid.UUID{b}}, {"", nil}, {uuid.NewString(), nil}} {
		asApp(t, x, tc.user, func(tx *sqlx.Tx) {
			// A sequential scan, where the cheap leak would run first without the barrier.
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			if err := tx.SelectContext(ctx, &got, `SELECT uuid FROM taskgraph_current_user WHERE leak(email)`); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Errorf("as %q: the view shows %v, want %v", tc.user, got, tc.want)
			}
			var seen []string
			if err := tx.SelectContext(ctx, &seen, `SELECT email FROM seen`); err != nil {
				t.Fatal(err)
			}
			if len(seen) > len(tc.want) {
				t.Errorf("as %q: a leaky function in the query saw %v", tc.user, seen)
			}
		})
	}

	asApp(t, x, "", func(tx *sqlx.Tx) {
		// A temporary "user" of the caller's own cannot stand in for the real one.
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE "user" (id text, uuid uuid); INSERT INTO "user" VALUES ('sub-a', gen_random_uuid())`); err != nil {
			t.Fatal(err)
		}
		for sub, want := range map[string]uuid.NullUUID{
			"sub-a": {UUID: a, Valid: true}, "sub-b": {UUID: b, Valid: true}, "%": {}, "": {}, "sub-a' OR true --": {},
		} {
			var got uuid.NullUUID
			if err := tx.QueryRowxContext(ctx, `SELECT taskgraph_user_uuid($1)`, sub).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("taskgraph_user_uuid(%q) = %v, want %v", sub, got, want)
			}
		}
	})

	// The store goes through the same doors.
	s := db.NewStore(x)
	if u, err := s.UserByUUID(ctx, a); err != nil || u.UUID != a || u.Email != "a@example.com" {
		t.Errorf("UserByUUID(a) = %+v, %v", u, err)
	}
	if id, found, err := s.UserUUIDBySub(ctx, "sub-b"); err != nil || !found || id != b {
		t.Errorf("UserUUIDBySub(sub-b) = %v, %v, %v", id, found, err)
	}
}
