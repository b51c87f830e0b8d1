package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/live"
)

// env turns a map into a getenv function, so tests never depend on the process environment.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServeWithoutBetterAuthURL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve"}, env(nil), &stdout, &stderr)
	if code == 0 {
		t.Fatal("serve without BETTER_AUTH_URL exited 0")
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "BETTER_AUTH_URL") || !strings.Contains(msg, "go run . dev") {
		t.Fatalf("want a one-line explanation naming BETTER_AUTH_URL and dev, got %q", msg)
	}
}

func TestInvalidConfigurationNamesTheVariable(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"AUTH_CLOCK_SKEW":        {"BETTER_AUTH_URL": "http://localhost:3000", "AUTH_CLOCK_SKEW": "soon"},
		"GRAPHQL_INTROSPECTION":  {"BETTER_AUTH_URL": "http://localhost:3000", "GRAPHQL_INTROSPECTION": "maybe"},
		"DATABASE_MAX_CONNS":     {"BETTER_AUTH_URL": "http://localhost:3000", "DATABASE_MAX_CONNS": "0"},
		"SUBSCRIPTIONS_PER_USER": {"BETTER_AUTH_URL": "http://localhost:3000", "SUBSCRIPTIONS_PER_USER": "0"},
		"SUBSCRIPTIONS_MAX":      {"BETTER_AUTH_URL": "http://localhost:3000", "SUBSCRIPTIONS_MAX": "lots"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{"serve"}, env(vars), io.Discard, &stderr); code == 0 {
			t.Errorf("%s: exited 0", name)
		}
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("%s: message does not name the variable: %q", name, stderr.String())
		}
	}
}

func TestCommandsAndHelp(t *testing.T) {
	for _, c := range commands {
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{c.name, "--help"}, env(nil), io.Discard, &stderr); code != 0 {
			t.Errorf("%s --help exited %d", c.name, code)
		}
		if !strings.Contains(stderr.String(), c.summary) {
			t.Errorf("%s --help does not describe the command: %q", c.name, stderr.String())
		}
	}
	if code := run(context.Background(), []string{"frobnicate"}, env(nil), io.Discard, io.Discard); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}
}

func TestDevRefusesProductionAndNonLoopback(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"dev"}, env(map[string]string{"APP_ENV": "production"}), io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "APP_ENV=production") {
		t.Errorf("dev with APP_ENV=production: code %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"dev"}, env(map[string]string{"ADDR": "0.0.0.0:8080"}), io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("dev on 0.0.0.0: code %d, %q", code, stderr.String())
	}
}

// testOperations are the tests' METRICS_OPERATIONS.
var testOperations = []string{"Me", "MyTasks"}

// newLiveApp builds the serve handler in-process against a fresh database, trusting a real
// issuer, with the live hub's settings: its listener is connected to the test database and
// closed when the test ends. The verifier looks users up by sub, and writers send NOTIFY only
// when the hub runs the NOTIFY fallback, as serve's do.
func newLiveApp(t *testing.T, iss *testkit.Issuer, liveCfg live.Config) *app {
	t.Helper()
	dbURL := testkit.NewDBURL(t)
	dbx, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dbx.Close() })
	m := newMetrics(dbx.DB)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &app{
		logger:  logger,
		db:      dbx,
		store:   db.NewStore(dbx),
		metrics: m,
		cfg: serverConfig{CORSOrigins: []string{"http://localhost:3000"}, ListenURL: dbURL, Live: liveCfg,
			MetricsPublic: true, MetricsOperations: testOperations},
	}
	m.countOperations(testOperations)
	a.verifier = testkit.StartVerifier(t, iss.Config(), db.NewStore(dbx), a.keys.hooks(m.authHooks()))
	a.live = live.NewHub(db.NewStore(dbx), liveCfg, m.liveHooks(), logger)
	if err := a.live.Start(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.live.Close(); testkit.WaitSlotsGone(t, dbx.DB) })
	a.keys.start(context.Background(), a.live, a.verifier, a.logger)
	a.store.LogicalFeed = a.live.Feed().Kind == live.FeedLogical
	return a
}
