package testkit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver
	"github.com/peterldowns/pgtestdb"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/migrations"
)

// DefaultTestDatabaseURL is used when TEST_DATABASE_URL is not set.
const DefaultTestDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testRole owns the test databases and runs the migrations. Like a production database user it is
// no superuser; CREATEROLE lets the migrations create the app role and grant it to itself, which is
// what allows the data layer's SET ROLE.
var testRole = pgtestdb.Role{
	Username:     "taskgraph_test",
	Password:     "taskgraph_test",
	Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE",
}

// NewDB returns a connection pool to a fresh, fully migrated database of its own, dropped when the
// test passes. Databases are cloned from a template migrated once per migration set, so this is
// fast. The pool goes through Route: through PgBouncer when TEST_POOLER=pgbouncer.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	x, err := sqlx.Open("postgres", Route(t, NewDBURL(t)))
	if err != nil {
		t.Fatalf("testkit: open test database: %v", err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// OpenDB opens dbURL for a test's own SQL (users, bulk rows, faults); closed when the test ends.
func OpenDB(t testing.TB, dbURL string) *sqlx.DB {
	t.Helper()
	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// NewDBURL creates a fresh, fully migrated database like NewDB and returns its connection URL, for
// tests that open it their own way (e.g. through a statement-counting driver).
func NewDBURL(t testing.TB) string {
	t.Helper()
	conf := baseConfig(t)
	inst := pgtestdb.Custom(t, conf, migrator{})
	return inst.URL()
}

// NewEmptyDBURL creates a fresh database with no migrations applied and returns its URL, for
// testing the migrations themselves.
func NewEmptyDBURL(t testing.TB) string {
	t.Helper()
	inst := pgtestdb.Custom(t, baseConfig(t), pgtestdb.NoopMigrator{})
	return inst.URL()
}

// baseConfig reads TEST_DATABASE_URL and checks that the server answers. An unreachable server
// fails the test under CI and skips it elsewhere.
func baseConfig(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		raw = DefaultTestDatabaseURL
	}
	return configFor(t, raw)
}

// configFor is the pgtestdb configuration of the server at raw (a superuser URL).
func configFor(t testing.TB, raw string) pgtestdb.Config {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testkit: TEST_DATABASE_URL is not a URL: %v", err)
	}
	pw, _ := u.User.Password()
	conf := pgtestdb.Config{
		DriverName:                "postgres",
		Host:                      u.Hostname(),
		Port:                      u.Port(),
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  strings.TrimPrefix(u.Path, "/"),
		Options:                   u.RawQuery,
		TestRole:                  &testRole,
		ForceTerminateConnections: true,
	}
	if conf.Port == "" {
		conf.Port = "5432"
	}
	if conf.Database == "" {
		conf.Database = "postgres"
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", raw)
	if err == nil {
		err = db.PingContext(ctx)
		_ = db.Close()
	}
	if err != nil {
		msg := "testkit: PostgreSQL at TEST_DATABASE_URL (" + u.Redacted() + ") is unreachable: " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (skipping; set CI=1 to make this a failure)")
	}
	return conf
}

// migrator lets pgtestdb build its template with our own goose migrations.
type migrator struct{}

// Hash identifies the migration set: a change to any file gives a new template.
func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return migrations.Up(ctx, db)
}

// CreateUser inserts a Better Auth "user" row, as Better Auth's sign-up would, and returns the
// uuid PostgreSQL gave it.
func CreateUser(t testing.TB, x *sqlx.DB, id, email, name string) uuid.UUID {
	t.Helper()
	const q = `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
		VALUES ($1, $2, $3, false, now(), now()) RETURNING uuid`
	var u uuid.UUID
	if err := x.QueryRowxContext(context.Background(), q, id, name, email).Scan(&u); err != nil {
		t.Fatalf("testkit: create user %q: %v", id, err)
	}
	return u
}

// SignUp creates the user sub-<name> (email <name>@example.com) in x and returns it with a token
// iss signed for it: a signed-in user of the test's server.
func SignUp(t testing.TB, x *sqlx.DB, iss *Issuer, name string) (auth.User, string) {
	t.Helper()
	u := auth.User{ID: "sub-" + name, Email: name + "@example.com", Name: name}
	u.UUID = CreateUser(t, x, u.ID, u.Email, u.Name)
	return u, iss.TokenFor(t, u)
}
