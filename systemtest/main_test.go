package systemtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// bin is the taskgraph binary TestMain built for this run.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskgraph-systemtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bin, err = testkit.BuildServer(dir, ".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveVars are the settings a test's serve trusts iss and uses dbURL with; extra adds to or
// overrides them.
func serveVars(iss *testkit.Issuer, dbURL string, extra map[string]string) map[string]string {
	vars := map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL()}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// startServe runs serve against dbURL trusting iss, with /metrics on its address (and extra),
// until the test ends.
func startServe(t *testing.T, iss *testkit.Issuer, dbURL string, extra map[string]string) *testkit.Server {
	t.Helper()
	vars := serveVars(iss, dbURL, map[string]string{"METRICS_PUBLIC": "true"})
	for k, v := range extra {
		vars[k] = v
	}
	return testkit.StartServe(t, bin, vars)
}

// serveProcess runs serve with vars on a free loopback port until the test ends and returns its
// base URL, once it is ready, and its log.
func serveProcess(t *testing.T, vars map[string]string) (string, *testkit.SyncBuffer) {
	t.Helper()
	s := testkit.StartServe(t, bin, vars)
	return s.Base, s.Stderr
}

// readyz is base's GET /readyz: its status and body.
func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}
