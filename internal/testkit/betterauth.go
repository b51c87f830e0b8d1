package testkit

import (
	"testing"

	"github.com/jmoiron/sqlx"
)

// BetterAuthTables creates what Better Auth's own migrations create besides "user" (the parts
// doctor looks at).
func BetterAuthTables(t testing.TB, dbURL string, withJWKS bool) {
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
