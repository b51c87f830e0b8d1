package systemtest

import (
	"strings"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// doctorFailures runs doctor with vars (and --token, if set) and returns its report and the
// number of checks that failed (its FAIL lines); a failed check makes it exit 1.
func doctorFailures(t *testing.T, vars map[string]string, token string) (int, string) {
	t.Helper()
	args := []string{"doctor"}
	if token != "" {
		args = append(args, "--token", token)
	}
	code, report, stderr := testkit.Run(t, bin, vars, args...)
	failed := strings.Count("\n"+report, "\nFAIL  ")
	if (code == 0) != (failed == 0) {
		t.Errorf("doctor exited %d with %d failed checks:\n%s%s", code, failed, report, stderr)
	}
	return failed, report
}

// TestDoctorOnDevsDatabase: doctor pointed at a running `dev` (its database and its issuer) says
// what it is and passes, instead of failing on the Better Auth tables dev does not create.
func TestDoctorOnDevsDatabase(t *testing.T) {
	dbURL := testkit.NewDBURL(t)
	token, gqlURL, _, _ := startDev(t, map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL})
	vars := map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": strings.TrimSuffix(gqlURL, "/graphql")}
	if failed, report := doctorFailures(t, vars, token); failed != 0 || !strings.Contains(report, "taskgraph dev`'s database") {
		t.Errorf("%d checks failed against dev, want 0 and dev named:\n%s", failed, report)
	}
	// The same database once Better Auth's tables exist is no longer taken for dev's.
	testkit.BetterAuthTables(t, dbURL, false)
	if failed, report := doctorFailures(t, vars, ""); failed != 1 {
		t.Errorf("%d checks failed with a Better Auth database lacking jwks, want 1:\n%s", failed, report)
	}
}
