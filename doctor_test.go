package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// betterAuthTables creates what Better Auth's own migrations create besides "user" (the parts
// doctor looks at).
func betterAuthTables(t *testing.T, dbURL string, withJWKS bool) {
	t.Helper()
	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	stmts := []string{`CREATE TABLE session (id text PRIMARY KEY, token text NOT NULL UNIQUE, "userId" text NOT NULL REFERENCES "user"(id), "expiresAt" timestamptz NOT NULL)`}
	if withJWKS {
		stmts = append(stmts, `CREATE TABLE jwks (id text PRIMARY KEY, "publicKey" text NOT NULL, "privateKey" text NOT NULL, "createdAt" timestamptz NOT NULL)`)
	}
	for _, q := range stmts {
		if _, err := x.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDoctorFindsAMissingJWKSTable(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	betterAuthTables(t, dbURL, false)

	var out bytes.Buffer
	failed := doctor(context.Background(), &out, env(map[string]string{
		"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL,
	}), "")
	report := out.String()
	if failed != 1 {
		t.Errorf("%d checks failed, want exactly 1 (the jwks table):\n%s", failed, report)
	}
	if !strings.Contains(report, `FAIL  Better Auth table "jwks": relation "jwks" does not exist`) || !strings.Contains(report, "jwt plugin") {
		t.Errorf("the report does not name the missing jwks table and its fix:\n%s", report)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"doctor"}, env(map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL}), &bytes.Buffer{}, &stderr); code == 0 {
		t.Error("doctor exited 0 with a failed check")
	}
}

func TestDoctorOnAHealthyDeployment(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	betterAuthTables(t, dbURL, true)
	x, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	u := auth.User{ID: "doc", Email: "doc@example.com", Name: "Doc"}
	u.UUID = testkit.CreateUser(t, x, u.ID, u.Email, u.Name)
	// A token without the uuid claim also proves the sub lookup against this database.
	claims := iss.Claims(u)
	delete(claims, "uuid")
	token := iss.Sign(t, claims, nil)

	var out bytes.Buffer
	vars := map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL}
	if failed := doctor(context.Background(), &out, env(vars), token); failed != 0 {
		t.Fatalf("%d checks failed on a healthy deployment:\n%s", failed, out.String())
	}
	for _, want := range []string{"ok    DATABASE_URL reachable", "ok    migrations current", `ok    Better Auth table "jwks"`, "ok    JWKS", "ok    token", iss.Key().KID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), token) {
		t.Error("doctor printed the token")
	}

	// A wrong audience is caught by configuration alone.
	out.Reset()
	vars["AUTH_AUDIENCE"] = "https://elsewhere.example"
	if failed := doctor(context.Background(), &out, env(vars), ""); failed != 1 || !strings.Contains(out.String(), "FAIL  audience") {
		t.Errorf("wrong AUTH_AUDIENCE: %d failed:\n%s", failed, out.String())
	}
}

// TestDoctorOnDevsDatabase: doctor pointed at a running `dev` (its database and its issuer) says
// what it is and passes, instead of failing on the Better Auth tables dev does not create.
func TestDoctorOnDevsDatabase(t *testing.T) {
	dbURL := testkit.NewDBURL(t)
	token, gqlURL, _, _ := startDev(t, map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL})
	base := strings.TrimSuffix(gqlURL, "/graphql")
	var out bytes.Buffer
	failed := doctor(context.Background(), &out, env(map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": base}), token)
	if failed != 0 || !strings.Contains(out.String(), "taskgraph dev`'s database") {
		t.Errorf("%d checks failed against dev, want 0 and dev named:\n%s", failed, out.String())
	}
	// The same database once Better Auth's tables exist is no longer taken for dev's.
	betterAuthTables(t, dbURL, false)
	out.Reset()
	if failed := doctor(context.Background(), &out, env(map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": base}), ""); failed != 1 {
		t.Errorf("%d checks failed with a Better Auth database lacking jwks, want 1:\n%s", failed, out.String())
	}
}

// startDev runs the dev command with vars until stop is called (or the test ends) and returns
// the token and GraphQL URL its banner printed, and the banner itself.
func startDev(t *testing.T, vars map[string]string) (token, gqlURL, banner string, stop func()) {
	t.Helper()
	if vars["DEV_KEY_FILE"] == "" {
		vars["DEV_KEY_FILE"] = filepath.Join(t.TempDir(), "dev-key.pem")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"dev"}, env(vars), &stdout, &stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("dev exited %d after cancel: %s", code, stderr.String())
				}
			case <-time.After(15 * time.Second):
				t.Error("dev did not stop")
			}
		})
	}
	t.Cleanup(stop)

	tokenRE := regexp.MustCompile(`Authorization: Bearer ([A-Za-z0-9_.-]+)`)
	urlRE := regexp.MustCompile(`GraphQL:\s+(http://\S+/graphql)`)
	testkit.WaitFor(t, "the dev banner", 30*time.Second, func() bool {
		select {
		case code := <-done:
			t.Fatalf("dev exited %d: %s", code, stderr.String())
		default:
		}
		return tokenRE.MatchString(stdout.String()) && urlRE.MatchString(stdout.String())
	})
	banner = stdout.String()
	return tokenRE.FindStringSubmatch(banner)[1], urlRE.FindStringSubmatch(banner)[1], banner, stop
}
