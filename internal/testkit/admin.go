package testkit

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
)

// AdminDB connects to the database of dbURL (from NewDBURL) as TEST_DATABASE_URL's user rather
// than the test role, for tests that read every user's rows directly, past row-level security, or
// act on the server's other sessions (pg_terminate_backend). bypass reports whether that user
// bypasses RLS (a superuser or BYPASSRLS, as the default postgres user does); when it does not,
// tables under RLS read as empty. The pool is closed when the test ends.
func AdminDB(t testing.TB, dbURL string) (x *sqlx.DB, bypass bool) {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		raw = DefaultTestDatabaseURL
	}
	admin, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testkit: TEST_DATABASE_URL is not a URL: %v", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	u.User = admin.User
	x, err = sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatalf("testkit: open %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() { _ = x.Close() })
	x.SetMaxOpenConns(2)
	const q = `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`
	if err := x.QueryRowxContext(context.Background(), q).Scan(&bypass); err != nil {
		t.Fatalf("testkit: connect as TEST_DATABASE_URL's user to %s: %v", u.Redacted(), err)
	}
	return x, bypass
}
