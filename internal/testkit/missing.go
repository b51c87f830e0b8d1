package testkit

import (
	"errors"
	"os"
	"testing"
)

// skipIfMissing ends the test when err is set: a skip when err is missing (a Debian package not
// installed here) outside CI, a failure under CI, where .ci/run installs it, and a failure for
// any other error.
func skipIfMissing(t testing.TB, err, missing error) {
	t.Helper()
	if errors.Is(err, missing) {
		msg := "testkit: " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (skipping; set CI=1 to make this a failure)")
	}
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
}
