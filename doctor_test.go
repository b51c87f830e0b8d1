package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

func TestDoctorFindsAMissingJWKSTable(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	testkit.BetterAuthTables(t, dbURL, false)

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
	testkit.BetterAuthTables(t, dbURL, true)
	x := testkit.OpenDB(t, dbURL)
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
