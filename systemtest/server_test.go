package systemtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// devUserEmail is the development user dev creates (dev.go).
const devUserEmail = "dev@taskgraph.local"

// maxBodyBytes is the largest body the server reads with a token (body.go).
const maxBodyBytes = 1 << 20

// startDev runs the dev command with vars until stop is called (or the test ends) and returns
// the token and GraphQL URL its banner printed, and the banner itself.
func startDev(t *testing.T, vars map[string]string) (token, gqlURL, banner string, stop func()) {
	t.Helper()
	if vars["DEV_KEY_FILE"] == "" {
		vars["DEV_KEY_FILE"] = filepath.Join(t.TempDir(), "dev-key.pem")
	}
	p := testkit.StartProcess(t, bin, vars, "dev")
	var once sync.Once
	stop = func() {
		once.Do(func() {
			p.Terminate(t)
			select {
			case <-p.Exited():
				if code := p.Wait(t, 0); code != 0 {
					t.Errorf("dev exited %d after SIGTERM: %s", code, p.Stderr.String())
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
		case <-p.Exited():
			t.Fatalf("dev exited %d: %s", p.Wait(t, 0), p.Stderr.String())
		default:
		}
		return tokenRE.MatchString(p.Stdout.String()) && urlRE.MatchString(p.Stdout.String())
	})
	banner = p.Stdout.String()
	return tokenRE.FindStringSubmatch(banner)[1], urlRE.FindStringSubmatch(banner)[1], banner, stop
}

// TestDevAnswersWithThePrintedToken is the README's first command: start dev, take the printed
// curl line's token, ask for the user and the task count.
func TestDevAnswersWithThePrintedToken(t *testing.T) {
	dbURL := testkit.NewDBURL(t)
	token, gqlURL, _, _ := startDev(t, map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL})

	var status int
	var out map[string]any
	testkit.WaitFor(t, "a successful query", 10*time.Second, func() bool {
		status, out = testkit.PostGraphQL(t, gqlURL, token, `{ me { email } tasks { totalCount } }`)
		return status == http.StatusOK && out["errors"] == nil
	})
	data := out["data"].(map[string]any)
	if got := data["me"].(map[string]any)["email"]; got != devUserEmail {
		t.Errorf("me.email = %v, want %s", got, devUserEmail)
	}
	if got := data["tasks"].(map[string]any)["totalCount"]; got != float64(0) {
		t.Errorf("tasks.totalCount = %v, want 0", got)
	}

	// GraphiQL is served under its CSP, with the token in its config (for the headers editor),
	// and the schema as SDL.
	base := strings.TrimSuffix(gqlURL, "/graphql")
	for path, want := range map[string]string{"/": "<div id=\"graphiql\">", "/ide/config.json": token, "/graphql/schema.graphql": "me: User! @auth"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: status %d, %q present: %v", path, resp.StatusCode, want, strings.Contains(string(body), want))
		}
		if path == "/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET /: CSP %q", resp.Header.Get("Content-Security-Policy"))
		}
	}
}

// TestDevKeySurvivesARestart: a token printed by one dev start still works after dev is
// restarted on the same address (the key is kept in DEV_KEY_FILE), and the banner names the
// BETTER_AUTH_URL the diagnostics commands need.
func TestDevKeySurvivesARestart(t *testing.T) {
	dbURL := testkit.NewDBURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	keyFile := filepath.Join(t.TempDir(), "keys", "dev-key.pem")
	vars := func() map[string]string {
		return map[string]string{"ADDR": addr, "DATABASE_URL": dbURL, "DEV_KEY_FILE": keyFile}
	}
	first, gqlURL, banner, stop := startDev(t, vars())
	if !strings.Contains(banner, "BETTER_AUTH_URL=http://"+addr+"\n") || !strings.Contains(banner, "created in "+keyFile) {
		t.Errorf("the banner does not name BETTER_AUTH_URL and the new key file:\n%s", banner)
	}
	stop()
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi)
	}

	_, _, banner, _ = startDev(t, vars())
	if !strings.Contains(banner, "kept in "+keyFile) {
		t.Errorf("the second start did not reuse the key file:\n%s", banner)
	}
	var status int
	var out map[string]any
	testkit.WaitFor(t, "the first start's token to work", 10*time.Second, func() bool {
		status, out = testkit.PostGraphQL(t, gqlURL, first, `{ me { email } }`)
		return status == http.StatusOK && out["errors"] == nil
	})
	if got := out["data"].(map[string]any)["me"].(map[string]any)["email"]; got != devUserEmail {
		t.Errorf("me.email = %v, want %s", got, devUserEmail)
	}

	// A key file that is not a key stops dev with a message naming DEV_KEY_FILE.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := vars()
	v["DEV_KEY_FILE"], v["ADDR"] = bad, "127.0.0.1:0"
	if code, _, stderr := testkit.Run(t, bin, v, "dev"); code != 1 || !strings.Contains(stderr, "DEV_KEY_FILE") {
		t.Errorf("dev with a bad key file exited %d: %s", code, stderr)
	}
}

func TestMetricsMoveAfterRequests(t *testing.T) {
	e := newLiveEnv(t, nil)
	_, tok := e.user("metrics-user")
	srv := e.srv

	okSeries := `taskgraph_graphql_requests_total{operation="Me",outcome="ok"}`
	failSeries := `taskgraph_auth_failures_total{reason="malformed_token"}`
	before := testkit.Scrape(t, srv.Base)
	if testkit.MetricValue(before, okSeries) != "" || testkit.MetricValue(before, failSeries) != "" {
		t.Fatalf("counters present before any request:\n%s", before)
	}

	if status, out := testkit.PostGraphQL(t, srv.Base+"/graphql", tok, `query Me { me { email } }`); status != 200 || out["errors"] != nil {
		t.Fatalf("query Me: %d %v", status, out)
	}
	// A mutation goes through the resolvers (issue 18's executors).
	if status, out := testkit.PostGraphQL(t, srv.Base+"/graphql", tok, `mutation { deleteTag(id: "`+uuid.NewString()+`") }`); status != 200 || out["errors"] == nil {
		t.Fatalf("deleteTag: %d %v", status, out)
	}
	if status, _ := testkit.PostGraphQL(t, srv.Base+"/graphql", "not-a-jwt", `query Me { me { email } }`); status != http.StatusUnauthorized {
		t.Fatalf("bad token: status %d, want 401", status)
	}

	after := testkit.Scrape(t, srv.Base)
	for series, want := range map[string]string{
		okSeries:   "1",
		failSeries: "1",
		`taskgraph_graphql_requests_total{operation="unknown",outcome="unauthenticated"}`: "1",
		`taskgraph_jwks_fetches_total{result="ok"}`:                                       "1",
		`taskgraph_http_request_duration_seconds_count{route="/graphql"}`:                 "3",
		`taskgraph_operations_total{executor="compiled"}`:                                 "1",
		`taskgraph_operations_total{executor="resolvers"}`:                                "1",
	} {
		if got := testkit.MetricValue(after, series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	if !strings.Contains(after, `go_sql_max_open_connections{db_name="taskgraph"}`) {
		t.Error("no database pool stats in /metrics")
	}
}

func TestReadyzFollowsTheJWKS(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	iss.SetDown(true)
	dbURL := testkit.NewDBURL(t)
	srv := testkit.StartServing(t, bin, serveVars(iss, dbURL, liveVars))

	ready := func() (int, map[string]string) { return readyz(t, srv.Base) }
	status, body := ready()
	if status != http.StatusServiceUnavailable || body["jwks"] == "ok" || body["database"] != "ok" {
		t.Fatalf("readyz with the JWKS down: %d %v, want 503 naming the JWKS", status, body)
	}
	// A request with a token meets the same outage as a 503 AUTH_UNAVAILABLE, not a 401.
	u := auth.User{UUID: testkit.CreateUser(t, testkit.OpenDB(t, dbURL), "r", "r@example.com", "R"), ID: "r", Email: "r@example.com"}
	if status, out := testkit.PostGraphQL(t, srv.Base+"/graphql", iss.TokenFor(t, u), `{ me { email } }`); status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(out), "AUTH_UNAVAILABLE") {
		t.Fatalf("query with the JWKS down: %d %v", status, out)
	}

	iss.SetDown(false)
	testkit.WaitFor(t, "readyz 200 once the JWKS is up", 30*time.Second, func() bool {
		status, _ := ready()
		return status == http.StatusOK
	})
	if resp, err := http.Get(srv.Base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}

// TestServeWarnsWhenTheJWKSCannotBeFetched: serve starts while the JWKS is down, says so once at
// WARN with the URL, and once at INFO when the keys arrive.
func TestServeWarnsWhenTheJWKSCannotBeFetched(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	iss.SetDown(true)
	stderr := testkit.StartServing(t, bin, serveVars(iss, testkit.NewDBURL(t), nil)).Stderr
	lines := func(level string) (n int) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && l["level"] == level && l["jwks"] == iss.JWKSURL() && l["msg"] != "serving" {
				n++
			}
		}
		return n
	}
	testkit.WaitFor(t, "a WARN naming the JWKS URL", 20*time.Second, func() bool { return lines("WARN") > 0 })
	time.Sleep(1500 * time.Millisecond) // retries happen meanwhile (backoff from 500 ms)
	iss.SetDown(false)
	testkit.WaitFor(t, "an INFO once the JWKS is fetched", 40*time.Second, func() bool { return lines("INFO") > 0 })
	if n := lines("WARN"); n != 1 {
		t.Errorf("%d WARN lines for one outage, want 1:\n%s", n, stderr.String())
	}
}

func TestBodyLimit(t *testing.T) {
	srv := newLiveEnv(t, nil).srv
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}}`
	resp, err := http.Post(srv.Base+"/graphql", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MiB: status %d, want 413", resp.StatusCode)
	}
}

// TestSIGTERMFinishesInFlightRequests sends SIGTERM while a request's body is still arriving: the
// request completes, then the process exits 0.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	srv := testkit.StartServe(t, bin, serveVars(iss, testkit.NewDBURL(t), nil))
	addr, logs := srv.Addr, srv.Stderr

	// The anonymous query needs no user row: { __typename } answers without @auth.
	body := `{"query":"{ __typename }"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the server is now reading this request's body

	srv.Terminate(t)
	testkit.WaitFor(t, "the shutdown log line", 10*time.Second, func() bool { return strings.Contains(logs.String(), "shutting down") })
	// New connections are refused while the in-flight request is still open (the log line comes
	// just before the listener closes, so give it a moment).
	testkit.WaitFor(t, "the listener to close after SIGTERM", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})

	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"__typename":"Query"`) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, answer)
	}

	if code := srv.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("process exit %d\n%s", code, logs.String())
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Error("a token-like string reached the log")
	}
}

// TestServeHasNoDevelopmentSurface: serve without the opt-in variables offers no playground, no
// introspection, and nothing of the development issuer.
func TestServeHasNoDevelopmentSurface(t *testing.T) {
	srv := newLiveEnv(t, nil).srv
	for _, path := range []string{"/", "/ide/config.json", "/graphql/schema.graphql", "/api/auth/jwks"} {
		resp, err := http.Get(srv.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	status, out := testkit.PostGraphQL(t, srv.Base+"/graphql", "", `{ __schema { types { name } } }`)
	if errs, _ := out["errors"].([]any); status != http.StatusOK || len(errs) == 0 ||
		errs[0].(map[string]any)["extensions"].(map[string]any)["code"] != "INTROSPECTION_DISABLED" {
		t.Errorf("introspection in serve: %d %v", status, out)
	}
}
