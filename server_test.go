package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
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

// startDev runs the dev command with vars until stop is called (or the test ends) and returns
// the token and GraphQL URL its banner printed, and the banner itself.
func startDev(t *testing.T, vars map[string]string) (token, gqlURL, banner string, stop func()) {
	t.Helper()
	if vars["DEV_KEY_FILE"] == "" {
		vars["DEV_KEY_FILE"] = filepath.Join(t.TempDir(), "dev-key.pem")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testkit.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"dev"}, env(vars), &stdout, &stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("dev exited %d after cancel: %s", code, stderr.String())
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
		case code := <-done:
			t.Fatalf("dev exited %d: %s", code, stderr.String())
		default:
		}
		return tokenRE.MatchString(stdout.String()) && urlRE.MatchString(stdout.String())
	})
	banner = stdout.String()
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

// testOperations are the tests' METRICS_OPERATIONS.
var testOperations = []string{"Me", "MyTasks"}

// newTestApp builds the serve handler in-process against a fresh database and a real issuer.
func newTestApp(t *testing.T, iss *testkit.Issuer) (*app, *testkit.Issuer) {
	t.Helper()
	return newLiveApp(t, iss, live.Config{}, nil), iss
}

// newLiveApp is newTestApp with the live hub's settings (and authCfg, if set, changing the
// verifier's): its listener is connected to the test database and closed when the test ends.
// The verifier looks users up by sub, as serve's does.
func newLiveApp(t *testing.T, iss *testkit.Issuer, liveCfg live.Config, authCfg func(*auth.Config)) *app {
	t.Helper()
	return newLiveAppOn(t, testkit.NewDBURL(t), iss, liveCfg, authCfg)
}

// newLiveAppOn is newLiveApp on the database at dbURL; writers send NOTIFY only when the hub
// runs the NOTIFY fallback, as serve's do.
func newLiveAppOn(t *testing.T, dbURL string, iss *testkit.Issuer, liveCfg live.Config, authCfg func(*auth.Config)) *app {
	t.Helper()
	dbx, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dbx.Close() })
	m := newMetrics(dbx.DB)
	cfg := iss.Config()
	if authCfg != nil {
		authCfg(&cfg)
	}
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
	a.verifier = testkit.StartVerifier(t, cfg, db.NewStore(dbx), a.keys.hooks(m.authHooks()))
	a.live = live.NewHub(db.NewStore(dbx), liveCfg, m.liveHooks(), logger)
	if err := a.live.Start(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.live.Close(); testkit.WaitSlotsGone(t, dbx.DB) })
	a.watchKeys(context.Background())
	a.store.LogicalFeed = a.live.Feed().Kind == live.FeedLogical
	return a
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
	var stderr bytes.Buffer
	v := vars()
	v["DEV_KEY_FILE"], v["ADDR"] = bad, "127.0.0.1:0"
	if code := run(context.Background(), []string{"dev"}, env(v), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "DEV_KEY_FILE") {
		t.Errorf("dev with a bad key file exited %d: %s", code, stderr.String())
	}
}

func TestMetricsMoveAfterRequests(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	a, _ := newTestApp(t, iss)
	testkit.WaitKeysLoaded(t, a.verifier)
	u := auth.User{ID: "metrics-user", Email: "m@example.com", Name: "M"}
	u.UUID = testkit.CreateUser(t, a.db, u.ID, u.Email, u.Name)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()

	okSeries := `taskgraph_graphql_requests_total{operation="Me",outcome="ok"}`
	failSeries := `taskgraph_auth_failures_total{reason="malformed_token"}`
	before := testkit.Scrape(t, srv.URL)
	if testkit.MetricValue(before, okSeries) != "" || testkit.MetricValue(before, failSeries) != "" {
		t.Fatalf("counters present before any request:\n%s", before)
	}

	if status, out := testkit.PostGraphQL(t, srv.URL+"/graphql", iss.TokenFor(t, u), `query Me { me { email } }`); status != 200 || out["errors"] != nil {
		t.Fatalf("query Me: %d %v", status, out)
	}
	// A mutation goes through the resolvers (issue 18's executors).
	if status, out := testkit.PostGraphQL(t, srv.URL+"/graphql", iss.TokenFor(t, u), `mutation { deleteTag(id: "`+uuid.NewString()+`") }`); status != 200 || out["errors"] == nil {
		t.Fatalf("deleteTag: %d %v", status, out)
	}
	if status, _ := testkit.PostGraphQL(t, srv.URL+"/graphql", "not-a-jwt", `query Me { me { email } }`); status != http.StatusUnauthorized {
		t.Fatalf("bad token: status %d, want 401", status)
	}

	after := testkit.Scrape(t, srv.URL)
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
	a, _ := newTestApp(t, iss)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()

	ready := func() (int, map[string]string) {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	status, body := ready()
	if status != http.StatusServiceUnavailable || body["jwks"] == "ok" || body["database"] != "ok" {
		t.Fatalf("readyz with the JWKS down: %d %v, want 503 naming the JWKS", status, body)
	}
	// A request with a token meets the same outage as a 503 AUTH_UNAVAILABLE, not a 401.
	u := auth.User{UUID: testkit.CreateUser(t, a.db, "r", "r@example.com", "R"), ID: "r", Email: "r@example.com"}
	if status, out := testkit.PostGraphQL(t, srv.URL+"/graphql", iss.TokenFor(t, u), `{ me { email } }`); status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(out), "AUTH_UNAVAILABLE") {
		t.Fatalf("query with the JWKS down: %d %v", status, out)
	}

	iss.SetDown(false)
	testkit.WaitFor(t, "readyz 200 once the JWKS is up", 30*time.Second, func() bool {
		status, _ := ready()
		return status == http.StatusOK
	})
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}

// TestServeWarnsWhenTheJWKSCannotBeFetched: serve starts while the JWKS is down, says so once at
// WARN with the URL, and once at INFO when the keys arrive.
func TestServeWarnsWhenTheJWKSCannotBeFetched(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	iss.SetDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &testkit.SyncBuffer{}
	done := make(chan int, 1)
	vars := map[string]string{"ADDR": "127.0.0.1:0", "DATABASE_URL": testkit.NewDBURL(t), "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL()}
	go func() { done <- run(ctx, []string{"serve"}, env(vars), io.Discard, stderr) }()
	defer func() { cancel(); <-done }()
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

func TestCORSPreflightAllowsAuthorization(t *testing.T) {
	a, _ := newTestApp(t, testkit.NewIssuer(t, "EdDSA"))
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/graphql", nil)
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
		t.Errorf("Allow-Origin = %q", got)
	}
	if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
		t.Errorf("Allow-Headers = %q, want authorization", got)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("a foreign origin was allowed: %q", got)
	}
}

func TestBodyLimit(t *testing.T) {
	a, _ := newTestApp(t, testkit.NewIssuer(t, "EdDSA"))
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}}`
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MiB: status %d, want 413", resp.StatusCode)
	}
}

// buildBinary builds the server once for the tests that run it as a process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "taskgraph-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "taskgraph")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// TestSIGTERMFinishesInFlightRequests sends SIGTERM while a request's body is still arriving: the
// request completes, then the process exits 0.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)

	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"ADDR=127.0.0.1:0", "DATABASE_URL="+dbURL, "BETTER_AUTH_URL="+iss.URL, "AUTH_JWKS_URL="+iss.JWKSURL())
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// The JSON log's "serving" line says which port was taken.
	addrCh := make(chan string, 1)
	var logs testkit.SyncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			if l := testkit.ServingLine(sc.Text()); l != nil {
				addrCh <- l["addr"].(string)
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start: %s", logs.String())
	}
	base := "http://" + addr
	testkit.WaitReady(t, base)

	// The anonymous query needs no user row: { __typename } answers without @auth.
	body := `{"query":"{ __typename }"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the server is now reading this request's body

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
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

	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("process exit: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Error("a token-like string reached the log")
	}
}

// TestServeHasNoDevelopmentSurface: serve without the opt-in variables offers no playground, no
// introspection, and nothing of the development issuer.
func TestServeHasNoDevelopmentSurface(t *testing.T) {
	a, _ := newTestApp(t, testkit.NewIssuer(t, "EdDSA"))
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	for _, path := range []string{"/", "/ide/config.json", "/graphql/schema.graphql", "/api/auth/jwks"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	status, out := testkit.PostGraphQL(t, srv.URL+"/graphql", "", `{ __schema { types { name } } }`)
	if errs, _ := out["errors"].([]any); status != http.StatusOK || len(errs) == 0 ||
		errs[0].(map[string]any)["extensions"].(map[string]any)["code"] != "INTROSPECTION_DISABLED" {
		t.Errorf("introspection in serve: %d %v", status, out)
	}
}
