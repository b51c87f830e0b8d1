package systemtest

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// maxOperationLabels is the server's cap on operation names counted by name (metrics.go).
const maxOperationLabels = 200

// operationLabels returns the operation label values of the requests counter in an exposition.
func operationLabels(exposition string) map[string]bool {
	re := regexp.MustCompile(`taskgraph_graphql_requests_total\{operation="([^"]*)"`)
	out := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(exposition, -1) {
		out[m[1]] = true
	}
	return out
}

// Requests without a token are counted under one label whatever they name, so that they cannot
// fill the label cap: after 205 anonymous operation names, a signed-in user's is still its own.
func TestAnonymousOperationNamesCannotFillTheLabelCap(t *testing.T) {
	e := newLiveEnv(t, nil)
	_, tok := e.user("labels")
	srv := e.srv

	for i := range maxOperationLabels + 5 {
		if status, _ := testkit.PostGraphQL(t, srv.Base+"/graphql", "", fmt.Sprintf("query Probe%d { __typename }", i)); status != http.StatusOK {
			t.Fatalf("anonymous request %d: status %d", i, status)
		}
	}
	for _, name := range []string{"Me", "MyTasks"} {
		if status, out := testkit.PostGraphQL(t, srv.Base+"/graphql", tok, "query "+name+" { me { email } }"); status != http.StatusOK || out["errors"] != nil {
			t.Fatalf("%s: %d %v", name, status, out)
		}
	}
	exposition := testkit.Scrape(t, srv.Base)
	labels := operationLabels(exposition)
	if len(labels) != 3 || !labels["unauthenticated"] || !labels["Me"] || !labels["MyTasks"] {
		t.Errorf("operation labels %v, want unauthenticated, Me and MyTasks", labels)
	}
	if got := testkit.MetricValue(exposition, `taskgraph_graphql_requests_total{operation="unauthenticated",outcome="ok"}`); got != fmt.Sprint(maxOperationLabels+5) {
		t.Errorf("anonymous requests counted %q, want %d", got, maxOperationLabels+5)
	}
}

// With METRICS_ADDR, /metrics is served on that listener only, and counts the API's requests.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	vars := map[string]string{"DATABASE_URL": testkit.NewDBURL(t), "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL(), "METRICS_ADDR": "127.0.0.1:0"}
	base, logs := serveProcess(t, vars)
	metricsAddr, _ := testkit.ServingLine(logs.String())["metrics_addr"].(string)
	if metricsAddr == "" || "http://"+metricsAddr == base {
		t.Fatalf("the serving line names no metrics address of its own: %s", logs.String())
	}
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API's address: %v %v, want 404", resp, err)
	}
	if status, _ := testkit.PostGraphQL(t, base+"/graphql", "", `query Hello { __typename }`); status != http.StatusOK {
		t.Fatalf("API: %d", status)
	}
	exposition := testkit.Scrape(t, "http://"+metricsAddr)
	if got := testkit.MetricValue(exposition, `taskgraph_graphql_requests_total{operation="unauthenticated",outcome="ok"}`); got != "1" {
		t.Errorf("the metrics listener counted %q API requests, want 1:\n%.500s", got, exposition)
	}
	if resp, err := http.Get("http://" + metricsAddr + "/graphql"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics listener serves more than /metrics: %v %v", resp, err)
	}
}

// In serve, /metrics is off the API's address unless METRICS_PUBLIC=true; a signed-in user's
// operation names become labels only when METRICS_OPERATIONS lists them (issue 20: one user's
// 300 names filled the label cap and pushed real operations into "other").
func TestMetricsPrivateByDefaultAndLabelsBounded(t *testing.T) {
	iss := testkit.NewIssuer(t, "EdDSA")
	dbURL := testkit.NewDBURL(t)
	base, _ := serveProcess(t, map[string]string{"DATABASE_URL": dbURL, "BETTER_AUTH_URL": iss.URL, "AUTH_JWKS_URL": iss.JWKSURL()})
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics in serve without METRICS_PUBLIC: %v %v, want 404", resp, err)
	}

	e := newAppEnv(t, iss, testkit.NewDBURL(t), nil) // METRICS_PUBLIC, METRICS_OPERATIONS=Me,MyTasks
	u := auth.User{ID: "chooser", Email: "c@example.com", Name: "C"}
	u.UUID = testkit.CreateUser(t, e.db, u.ID, u.Email, u.Name)
	srv := e.srv
	tok := iss.TokenFor(t, u)
	for i := range 300 {
		if status, _ := testkit.PostGraphQL(t, srv.Base+"/graphql", tok, fmt.Sprintf("query Chosen%d { me { id } }", i)); status != http.StatusOK {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	if status, _ := testkit.PostGraphQL(t, srv.Base+"/graphql", tok, "query Me { me { id } }"); status != http.StatusOK {
		t.Fatal(status)
	}
	labels := operationLabels(testkit.Scrape(t, srv.Base))
	if len(labels) != 2 || !labels["Me"] || !labels["other"] {
		t.Fatalf("operation labels %v, want Me and other", labels)
	}
}
