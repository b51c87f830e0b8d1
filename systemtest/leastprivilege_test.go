package systemtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// adminURL is TEST_DATABASE_URL (or its default): a user that may create roles and databases.
func adminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return testkit.DefaultTestDatabaseURL
}

// readmeSQL returns the SQL block of docs/deploying.md that follows marker.
func readmeSQL(t *testing.T, marker string) string {
	t.Helper()
	readme, err := os.ReadFile("../docs/deploying.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("docs/deploying.md has no %q", marker)
	}
	m := regexp.MustCompile("(?s)```sql\n(.*?)```").FindStringSubmatch(rest)
	if m == nil {
		t.Fatalf("no sql block after %q", marker)
	}
	return m[1]
}

// TestLeastPrivilegeLoginRole runs the least-privilege SQL of docs/deploying.md (with a role and database name
// of its own), then migrate, serve and doctor as that role: the API works, the sub lookup too,
// and doctor finds nothing to warn about.
func TestLeastPrivilegeLoginRole(t *testing.T) {
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", adminURL())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PingContext(ctx); err != nil {
		t.Skipf("no PostgreSQL at TEST_DATABASE_URL: %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "taskgraph_lp_" + hex.EncodeToString(b[:])
	script := regexp.MustCompile(`\btaskgraph\b`).ReplaceAllString(readmeSQL(t, "<!-- least-privilege-sql"), name)
	t.Cleanup(func() {
		defer admin.Close()
		for _, q := range []string{`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`, `DROP ROLE IF EXISTS ` + name} {
			if _, err := admin.Exec(q); err != nil {
				t.Errorf("cleanup: %s: %v", q, err)
			}
		}
	})
	// CREATE DATABASE cannot run inside the implicit transaction of a multi-statement query.
	for _, stmt := range splitSQL(script) {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("README SQL: %s: %v", stmt, err)
		}
	}

	u, _ := url.Parse(adminURL())
	u.User = url.UserPassword(name, "change-me")
	u.Path = "/" + name
	dbURL := u.String()
	var super, bypass bool
	asRole, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer asRole.Close()
	if err := asRole.QueryRowContext(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("the README's role is superuser=%v bypassrls=%v", super, bypass)
	}

	if code, _, stderr := testkit.Run(t, bin, map[string]string{"DATABASE_URL": dbURL}, "migrate"); code != 0 {
		t.Fatalf("migrate as %s: exit %d: %s", name, code, stderr)
	}

	iss := testkit.NewIssuer(t, "EdDSA")
	base, _ := serveProcess(t, map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL()})

	// Better Auth shares the role: it writes "user" as the role does here.
	user := auth.User{ID: "lp-user", Email: "lp@example.com", Name: "LP"}
	user.UUID = testkit.CreateUser(t, asRole, user.ID, user.Email, user.Name)
	status, out := testkit.PostGraphQL(t, base+"/graphql", iss.TokenFor(t, user), `mutation { createTask(input: {title: "least"}) { id } }`)
	if status != http.StatusOK || out["errors"] != nil {
		t.Fatalf("createTask as %s: %d %v", name, status, out)
	}
	claims := iss.Claims(user)
	delete(claims, "uuid") // the sub lookup through taskgraph_user_uuid
	status, out = testkit.PostGraphQL(t, base+"/graphql", iss.Sign(t, claims, nil), `{ me { uuid email } tasks { totalCount } }`)
	data, _ := json.Marshal(out["data"])
	if status != http.StatusOK || out["errors"] != nil || !strings.Contains(string(data), user.UUID.String()) || !strings.Contains(string(data), `"totalCount":1`) {
		t.Fatalf("me and tasks by sub as %s: %d %v", name, status, out)
	}

	_, report, _ := testkit.Run(t, bin, map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL}, "doctor")
	// No warning about the role (the live feed's fallback may be warned about: no REPLICATION here).
	if !strings.Contains(report, `ok    database role "`+name+`"`) || strings.Contains(report, "WARN  database role") {
		t.Errorf("doctor as %s:\n%s", name, report)
	}
}

// TestDoctorWarnsAboutASuperuser: doctor connected as a superuser says so, without failing.
func TestDoctorWarnsAboutASuperuser(t *testing.T) {
	dbURL := testkit.NewDBURL(t)
	su, _ := url.Parse(dbURL)
	au, _ := url.Parse(adminURL())
	su.User = au.User
	x, err := sql.Open("postgres", su.String())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var super bool
	if err := x.QueryRow(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("TEST_DATABASE_URL's user is no superuser")
	}
	iss := testkit.NewIssuer(t, "EdDSA")
	_, report, _ := testkit.Run(t, bin, map[string]string{"DATABASE_URL": su.String(), "BETTER_AUTH_URL": iss.URL}, "doctor")
	if !regexp.MustCompile(`WARN  database role "[^"]+": is a superuser`).MatchString(report) || strings.Contains(report, "FAIL  database role") {
		t.Errorf("doctor as a superuser:\n%s", report)
	}
}

// splitSQL splits a script into statements at semicolons that end a line outside a $$ block.
func splitSQL(script string) []string {
	var out []string
	var cur strings.Builder
	inDollar := false
	for _, line := range strings.SplitAfter(script, "\n") {
		if strings.Count(line, "$$")%2 == 1 {
			inDollar = !inDollar
		}
		cur.WriteString(line)
		code, _, _ := strings.Cut(line, "--")
		if !inDollar && strings.HasSuffix(strings.TrimSpace(code), ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
