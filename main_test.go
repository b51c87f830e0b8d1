package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
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
