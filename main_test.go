package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// A wrong use exits 2 and prints what is wrong and the command's usage, whether the flag package
// caught it (an unknown flag) or the command did (a missing --token).
func TestUsageErrorsPrintTheUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"verify-token"}, "--token is required"},
		{[]string{"verify-token", "--token", " "}, "--token is required"},
		{[]string{"doctor", "--token", " "}, "--token is required"},
		{[]string{"verify-jwks", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, env(nil), io.Discard, &stderr)
		var summary string
		for _, c := range commands {
			if c.name == tc.args[0] {
				summary = c.summary
			}
		}
		if code != 2 || !strings.Contains(stderr.String(), tc.says) || !strings.Contains(stderr.String(), summary) {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q and the usage", tc.args, code, stderr.String(), tc.says)
		}
	}
}

// help, -h and --help all print the command list on stdout; version and --version the build's
// version; each exits 0.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, env(nil), &stdout, &stderr)
		want := "verify-token"
		if strings.Contains(args[0], "version") {
			want = "taskgraph "
		}
		if code != 0 || !strings.Contains(stdout.String(), want) || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q on stdout", args, code, stdout.String(), stderr.String(), want)
		}
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"version"}, env(nil), &stdout, io.Discard)
	if !strings.Contains(stdout.String(), "go1.") {
		t.Errorf("version %q does not name the Go version", stdout.String())
	}
}

// TestHelpNamesEveryVariableItReads runs every command with an environment that records what is
// read: each command's --help must list exactly what it reads (GOGC and GOMEMLIMIT are read by
// main before any command), every listed variable has a help line and a row in docs/configuration.md's
// table, and --help shows the list and an example.
func TestHelpNamesEveryVariableItReads(t *testing.T) {
	readme, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	dbURL := testkit.NewDBURL(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	args := map[string][]string{"verify-token": {"--token", "x.y.z"}}
	started := map[string]bool{"serve": true, "dev": true} // would serve: run them on a done context
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			read := map[string]bool{}
			values := map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": "http://127.0.0.1:1", "ADDR": "127.0.0.1:0",
				"DEV_KEY_FILE": filepath.Join(t.TempDir(), "k.pem"), "AUTH_JWKS_TIMEOUT": "1s"}
			getenv := func(k string) string { read[k] = true; return values[k] }
			ctx := context.Background()
			if started[c.name] {
				ctx = cancelled
			}
			run(ctx, append([]string{c.name}, args[c.name]...), getenv, io.Discard, io.Discard)
			listed := map[string]bool{}
			for _, k := range c.env {
				listed[k] = true
				if settingHelp[k] == "" {
					t.Errorf("%s has no help line", k)
				}
				if !bytes.Contains(readme, []byte("| `"+k+"`")) && !bytes.Contains(readme, []byte("`, `"+k+"`")) {
					t.Errorf("%s is not in docs/configuration.md's table", k)
				}
			}
			for k := range read {
				if !listed[k] {
					t.Errorf("%s reads %s, which its --help does not list", c.name, k)
				}
			}
			for k := range listed {
				if !read[k] && k != "GOGC" && k != "GOMEMLIMIT" {
					t.Errorf("%s --help lists %s, which it does not read", c.name, k)
				}
			}
			var help bytes.Buffer
			run(context.Background(), []string{c.name, "--help"}, env(nil), io.Discard, &help)
			for _, want := range append([]string{"Flags:", "Example:"}, c.env...) {
				if !strings.Contains(help.String(), want) {
					t.Errorf("%s --help does not show %q:\n%s", c.name, want, help.String())
				}
			}
		})
	}
}

// TestVersionNamesTheCommitWithoutVCSStamps: a build with -buildvcs=false has no vcs settings,
// and the commit the Makefile passes with -ldflags is shown instead; the schema and migrations
// are named in every case.
func TestVersionNamesTheCommitWithoutVCSStamps(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := versionOf(info, "0123456789ab"); got != "taskgraph (devel) (commit 0123456789ab) go1.26.8" {
		t.Errorf("without vcs stamps: %q", got)
	}
	info.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "fedcba9876543210"}, {Key: "vcs.time", Value: "2026-12-07T16:00:00Z"}}
	if got := versionOf(info, "0123456789ab"); got != "taskgraph (devel) (commit fedcba987654, 2026-12-07T16:00:00Z) go1.26.8" {
		t.Errorf("with vcs stamps: %q", got)
	}
	if v := version(); !strings.Contains(v, ", schema "+schemaVersion()+", migrations 0") || len(schemaVersion()) != 12 {
		t.Errorf("version() = %q does not name the schema and the migrations", v)
	}
}
