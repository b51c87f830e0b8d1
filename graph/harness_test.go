package graph_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/internal/testkit"
)

// env is the real stack: auth.Middleware with a verifier trusting a test issuer, in front of
// graph.NewServer on a fresh database reached through a statement-counting driver.
type env struct {
	t       testing.TB
	x       *sqlx.DB
	dbURL   string // the test database, for direct connections
	store   *db.Store
	handler http.Handler
	issuer  *testkit.Issuer
	a, b    auth.User
	stmts   atomic.Int64 // statements sent to PostgreSQL
	// operations served by each executor (graph.ExecutorCompiled, graph.ExecutorResolvers)
	compiled, resolved atomic.Int64
	logs               *testkit.SyncBuffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, logs: &testkit.SyncBuffer{}}
	e.dbURL = testkit.NewDBURL(t)
	conn, err := db.NewConnector(testkit.Route(t, e.dbURL)) // as the server talks to PostgreSQL
	if err != nil {
		t.Fatal(err)
	}
	e.x = sqlx.NewDb(sql.OpenDB(testkit.CountingConnector(conn, &e.stmts)), "postgres")
	t.Cleanup(func() { _ = e.x.Close() })
	e.store = db.NewStore(e.x)
	e.store.OwnSessions = !testkit.Pooled() // as serve runs it: prepared on sessions of its own
	e.a = e.user("sub-a", "a@example.com", "Alice")
	e.b = e.user("sub-b", "b@example.com", "Bob")
	e.issuer = testkit.NewIssuer(t, "EdDSA")
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	srv := graph.NewServer(e.store, graph.Options{Logger: log, CountOperation: e.countOperation})
	e.handler = auth.Middleware(e.issuer.Verifier(t, e.store))(srv)
	return e
}

func (e *env) countOperation(executor string) {
	if executor == graph.ExecutorCompiled {
		e.compiled.Add(1)
	} else {
		e.resolved.Add(1)
	}
}

func (e *env) user(id, email, name string) auth.User {
	u := testkit.CreateUser(e.t, e.x, id, email, name)
	return auth.User{UUID: u, ID: id, Email: email, Name: name}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type response struct {
	Status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
	Raw    string
}

// code returns the first error's extensions.code, or "".
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (r response) field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["field"].(string)
	return c
}

// do posts a GraphQL request as u (anonymous when u is nil).
func (e *env) do(u *auth.User, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if u != nil {
		req.Header.Set("Authorization", "Bearer "+e.issuer.TokenFor(e.t, *u))
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	r := response{Status: rec.Code, Raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("response is not JSON (%d): %s", rec.Code, rec.Body)
	}
	return r
}

// ok runs the request and fails the test on any error; it decodes data[field] into out.
func (e *env) ok(u *auth.User, query string, vars map[string]any, field string, out any) {
	e.t.Helper()
	r := e.do(u, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		e.t.Fatalf("%s: status %d, errors %s", firstLine(query), r.Status, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data[field], out); err != nil {
			e.t.Fatalf("decode %s: %v in %s", field, err, r.Raw)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func newID() string { return uuid.NewString() }
