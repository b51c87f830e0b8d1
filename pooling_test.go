package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// serve behind a transaction pooler with no direct connection for LISTEN and the migrations
// refuses to start, naming the setting that fixes it; a DATABASE_LISTEN_URL through the pooler
// is refused too, and so is a statement-mode pooler, which cannot carry a transaction.
func TestServeRefusesSessionsThroughATransactionPooler(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	direct := testkit.NewDBURL(t)
	pooled := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{}).URL(t, direct)
	statement := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{Mode: "statement"}).URL(t, direct)
	for _, c := range []struct {
		databaseURL, listenURL string
		want                   []string
	}{
		{pooled, "", []string{"DATABASE_URL goes through a pooler that shares PostgreSQL sessions", "set DATABASE_LISTEN_URL to a direct connection"}},
		{pooled, pooled + "&application_name=listener", []string{"DATABASE_LISTEN_URL goes through a pooler", "set DATABASE_LISTEN_URL to a direct connection"}},
		{statement, direct, []string{"DATABASE_URL: db: cannot open a transaction", "set pool_mode = transaction"}},
	} {
		var stderr testkit.SyncBuffer
		code := run(context.Background(), []string{"serve"}, env(map[string]string{
			"ADDR": "127.0.0.1:0", "DATABASE_URL": c.databaseURL, "DATABASE_LISTEN_URL": c.listenURL, "BETTER_AUTH_URL": iss.URL,
		}), io.Discard, &stderr)
		for _, want := range c.want {
			if code != 1 || !strings.Contains(stderr.String(), want) {
				t.Errorf("DATABASE_URL %s, DATABASE_LISTEN_URL %q: exit %d, want 1 and %q in:\n%s", c.databaseURL, c.listenURL, code, want, stderr.String())
			}
		}
	}
}

// doctor sees the transaction pooler in front of DATABASE_URL, shows that a LISTEN through it
// does not hear a NOTIFY, and says to set DATABASE_LISTEN_URL; with it set to a direct
// connection every check passes.
func TestDoctorDetectsATransactionPooler(t *testing.T) {
	t.Parallel()
	iss := testkit.NewIssuer(t, "EdDSA")
	direct := testkit.NewDBURL(t)
	testkit.BetterAuthTables(t, direct, true)
	pooled := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{}).URL(t, direct)

	var out bytes.Buffer
	vars := map[string]string{"DATABASE_URL": pooled, "BETTER_AUTH_URL": iss.URL}
	failed := doctor(context.Background(), &out, env(vars), "")
	report := out.String()
	for _, want := range []string{
		"FAIL  DATABASE_URL sessions: a pooler shares PostgreSQL sessions between clients",
		"fix: set DATABASE_LISTEN_URL to a direct connection to the same database",
		"FAIL  LISTEN on DATABASE_URL: a NOTIFY sent through DATABASE_URL did not reach a LISTEN on DATABASE_URL",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if failed != 2 {
		t.Errorf("%d checks failed, want 2 (sessions and LISTEN):\n%s", failed, report)
	}

	out.Reset()
	vars["DATABASE_LISTEN_URL"] = direct
	failed = doctor(context.Background(), &out, env(vars), "")
	if failed != 0 {
		t.Errorf("with a direct DATABASE_LISTEN_URL %d checks failed:\n%s", failed, out.String())
	}
	for _, want := range []string{
		"ok    DATABASE_URL sessions: a pooler shares PostgreSQL sessions between clients",
		"ok    DATABASE_LISTEN_URL sessions: every connection has a PostgreSQL session of its own",
		"ok    LISTEN on DATABASE_LISTEN_URL: heard a NOTIFY sent through DATABASE_URL",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
