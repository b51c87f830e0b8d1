package db

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/internal/pgwire"
	"github.com/taskgraph/taskgraph/internal/testkit"
	"github.com/taskgraph/taskgraph/migrations"
)

// titlesSQL reads every title the transaction can see, with no condition on the user: only
// row-level security keeps the other user's rows out. $1 is a prefix they must start with.
const titlesSQL = `SELECT coalesce(json_agg(t.title ORDER BY t.title), '[]')::text FROM tasks t WHERE t.title LIKE $1 || '%'`

// jsonStore is a Store with two users who each own two tasks, on a pool of n sessions reached as
// the tests' pooler setting says (TEST_POOLER=pgbouncer: through PgBouncer, where ownSessions is
// not true unless the test means to lie about it).
func jsonStore(t *testing.T, url string, n int, ownSessions bool) (*Store, uuid.UUID, uuid.UUID) {
	t.Helper()
	x, err := Open(context.Background(), url, Options{MaxConns: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	s := NewStore(x)
	s.OwnSessions = ownSessions
	a := testkit.CreateUser(t, x, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, x, "sub-b", "b@example.com", "B")
	for _, u := range []struct {
		id    uuid.UUID
		title string
	}{{a, "a1"}, {a, "a2 it's"}, {b, "b1"}, {b, "b2"}} {
		if _, err := s.CreateTask(context.Background(), u.id, NewTask{Title: u.title}); err != nil {
			t.Fatal(err)
		}
	}
	return s, a, b
}

// ReadJSON answers each user with the user's rows only, prepared on a session of its own or as
// text, for users that alternate on one session; and it is one round trip either way.
func TestReadJSONIsOneRoundTripUnderRLS(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{true, false} {
		t.Run(fmt.Sprintf("own sessions %v", own), func(t *testing.T) {
			t.Parallel()
			url, proxy := testkit.NewProxiedDBURL(t)
			s, a, b := jsonStore(t, url, 1, own)
			ctx := context.Background()
			for i := range 6 {
				user, want := a, `["a1", "a2 it's"]`
				if i%2 == 1 {
					user, want = b, `["b1", "b2"]`
				}
				proxy.Reset()
				got, err := s.ReadJSON(ctx, user, "titles", titlesSQL, "")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Fatalf("request %d: %s, want %s", i, got, want)
				}
				if err := proxy.WaitIdle(ctx); err != nil {
					t.Fatal(err)
				}
				if rt := proxy.Snapshot().RoundTrips; rt != 1 {
					t.Fatalf("request %d: %d round trips, want 1", i, rt)
				}
			}
			// A hostile argument is a value, not SQL.
			got, err := s.ReadJSON(ctx, a, "titles", titlesSQL, "a2 it's'; SELECT '")
			if err != nil || string(got) != `[]` {
				t.Fatalf("hostile prefix: %s, %v", got, err)
			}
			got, err = s.ReadJSON(ctx, a, "titles", titlesSQL, "a2 it's")
			if err != nil || string(got) != `["a2 it's"]` {
				t.Fatalf("quoted prefix: %s, %v", got, err)
			}
			var prepared []string
			if err := s.x.SelectContext(ctx, &prepared, `SELECT statement FROM pg_prepared_statements`); err != nil {
				t.Fatal(err)
			}
			if own && (len(prepared) != 1 || !strings.Contains(prepared[0], titlesSQL)) {
				t.Fatalf("prepared on the session: %q, want the one statement", prepared)
			}
			if !own && len(prepared) != 0 {
				t.Fatalf("prepared without a session of its own: %q", prepared)
			}
		})
	}
}

// After a ReadJSON the session keeps no role, no user and no timeout: only the prepared statement.
func TestReadJSONLeavesNothingButThePreparedStatement(t *testing.T) {
	t.Parallel()
	s, a, _ := jsonStore(t, testkit.Route(t, testkit.NewDBURL(t)), 1, false)
	s.OwnSessions = !testkit.Pooled()
	s.StatementTimeout = 1500 * time.Millisecond
	ctx := context.Background()
	got, err := s.ReadJSON(ctx, a, "settings", `SELECT json_build_array(current_user, current_setting('app.user_uuid'), current_setting('statement_timeout'), current_setting('transaction_read_only'))::text`)
	if want := fmt.Sprintf(`["taskgraph_app", "%s", "1500ms", "on"]`, a); err != nil || string(got) != want {
		t.Fatalf("inside: %s, %v; want %s", got, err, want)
	}
	var role, user, timeout string
	if err := s.x.QueryRowxContext(ctx, `SELECT current_user, current_setting('app.user_uuid', true), current_setting('statement_timeout')`).Scan(&role, &user, &timeout); err != nil {
		t.Fatal(err)
	}
	if role == AppRole || user != "" || timeout != "0" {
		t.Fatalf("after ReadJSON the session has %q %q %q", role, user, timeout)
	}
}

// A failing statement, a timeout and a canceled context leave a session that serves the next
// read correctly, whether the failure came with the PREPARE or after it; nothing is written.
func TestReadJSONFailuresLeaveAUsableSession(t *testing.T) {
	t.Parallel()
	s, a, b := jsonStore(t, testkit.Route(t, testkit.NewDBURL(t)), 1, !testkit.Pooled())
	ctx := context.Background()
	check := func(after string) {
		t.Helper()
		got, err := s.ReadJSON(ctx, b, "titles", titlesSQL, "")
		if err != nil || string(got) != `["b1", "b2"]` {
			t.Fatalf("after %s: %s, %v", after, got, err)
		}
	}
	failing := `SELECT (1 / $1::int)::text`
	if _, err := s.ReadJSON(ctx, a, "div", failing, 0); pqCode(err) != "22012" {
		t.Fatalf("division by zero on its first run: %v", err)
	}
	check("a failed PREPARE message")
	if _, err := s.ReadJSON(ctx, a, "div", failing, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadJSON(ctx, a, "div", failing, 0); pqCode(err) != "22012" {
		t.Fatalf("division by zero once prepared: %v", err)
	}
	check("a failed EXECUTE")
	if _, err := s.ReadJSON(ctx, a, "write", `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'x', now()) RETURNING name`, a); pqCode(err) != "25006" {
		t.Fatalf("a write: %v, want a read-only refusal", err)
	}
	check("a refused write")
	s.StatementTimeout = 50 * time.Millisecond
	if _, err := s.ReadJSON(ctx, a, "sleep", `SELECT pg_sleep($1)::text`, 2); !Canceled(err) {
		t.Fatalf("past the statement timeout: %v", err)
	}
	s.StatementTimeout = 0
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.ReadJSON(short, a, "sleep", `SELECT pg_sleep($1)::text`, 2); !Canceled(err) {
		t.Fatalf("past the context's deadline: %v", err)
	}
	check("a timeout and a cancel")
	if tags, err := s.Tags(ctx, a); err != nil || len(tags) != 0 {
		t.Fatalf("tags %v, %v", tags, err)
	}
	if _, err := s.ReadJSON(ctx, uuid.Nil, "titles", titlesSQL, ""); err == nil {
		t.Fatal("a read without a user")
	}
	for _, q := range []string{`SELECT '1'; COMMIT; SELECT '2'`, `SELECT '1' /* `} {
		if got, err := s.ReadJSON(ctx, a, "q"+q, q); err == nil {
			t.Fatalf("%q was run: %s", q, got)
		}
	}
	check("refused statements")
}

// A session holds at most maxPreparedPerSession statements, however many operations it serves.
func TestReadJSONBoundsPreparedStatements(t *testing.T) {
	t.Parallel()
	s, a, _ := jsonStore(t, testkit.NewDBURL(t), 1, true)
	ctx := context.Background()
	for i := range maxPreparedPerSession + 20 {
		q := fmt.Sprintf(`SELECT (%d + $1::int)::text`, i)
		got, err := s.ReadJSON(ctx, a, fmt.Sprint("k", i), q, 1)
		if err != nil || string(got) != fmt.Sprint(i+1) {
			t.Fatalf("statement %d: %s, %v", i, got, err)
		}
	}
	// The first ones were evicted, and run again (prepared anew) correctly.
	if got, err := s.ReadJSON(ctx, a, "k0", `SELECT (0 + $1::int)::text`, 1); err != nil || string(got) != "1" {
		t.Fatalf("an evicted statement: %s, %v", got, err)
	}
	var n int
	if err := s.x.GetContext(ctx, &n, `SELECT count(*) FROM pg_prepared_statements`); err != nil {
		t.Fatal(err)
	}
	if n != maxPreparedPerSession {
		t.Fatalf("%d statements prepared on the session, want %d", n, maxPreparedPerSession)
	}
}

// Told wrongly that its sessions are its own while PgBouncer shares them, ReadJSON still answers
// every user correctly: a statement missing on the session it lands on makes it stop preparing.
func TestReadJSONSurvivesAPoolerItWasNotToldOf(t *testing.T) {
	t.Parallel()
	direct := testkit.NewDBURL(t)
	pgb := testkit.StartPgBouncer(t, testkit.PgBouncerOptions{PoolSize: 2})
	s, a, b := jsonStore(t, pgb.URL(t, direct), 4, true)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				user, want := a, `["a1", "a2 it's"]`
				if (w+i)%2 == 1 {
					user, want = b, `["b1", "b2"]`
				}
				got, err := s.ReadJSON(ctx, user, fmt.Sprint("titles", i%3), titlesSQL+fmt.Sprintf(" -- %d", i%3), "")
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("worker %d request %d: %s, %v", w, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Logged in as the app role itself, transactions skip SET ROLE and row-level security still
// confines every read; a superuser login keeps the switch. (A private cluster: LOGIN is a
// cluster-wide attribute of the role.)
func TestLoginAsTheAppRoleSkipsTheRoleSwitch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testkit.StartPostgres(t)
	admin, err := Open(ctx, pg.URL, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := migrations.Up(ctx, admin.DB); err != nil {
		t.Fatal(err)
	}
	if err := NewStore(admin).CheckLoginRole(ctx); err != nil || NewStore(admin).login.isAppRole() {
		t.Fatalf("a superuser login taken for the app role: %v", err)
	}
	admin.MustExec(`ALTER ROLE ` + AppRole + ` LOGIN`)
	u, _ := url.Parse(pg.URL)
	u.User = url.User(AppRole)
	proxy, err := pgwire.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	appURL, err := proxy.RewriteURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	a := testkit.CreateUser(t, admin, "sub-a", "a@example.com", "A")
	b := testkit.CreateUser(t, admin, "sub-b", "b@example.com", "B")
	x, err := Open(ctx, appURL, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	s := NewStore(x)
	s.OwnSessions = true
	if err := s.CheckLoginRole(ctx); err != nil || !s.login.isAppRole() {
		t.Fatalf("the app role's login not recognised: %v", err)
	}
	for _, c := range []struct {
		user  uuid.UUID
		title string
	}{{a, "a1"}, {a, "a2 it's"}, {b, "b1"}, {b, "b2"}} {
		if _, err := s.CreateTask(ctx, c.user, NewTask{Title: c.title}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		user uuid.UUID
		want string
	}{{a, `["a1", "a2 it's"]`}, {b, `["b1", "b2"]`}, {a, `["a1", "a2 it's"]`}} {
		proxy.Reset()
		got, err := s.ReadJSON(ctx, c.user, "titles", titlesSQL, "")
		if err != nil || string(got) != c.want {
			t.Fatalf("%s, %v; want %s", got, err, c.want)
		}
		page, err := s.ListTasks(ctx, c.user, TaskQuery{Order: TaskOrder{Field: SortTitle}, Limit: 10})
		if err != nil || len(page.Tasks) != 2 || page.Tasks[0].Title[0] != c.want[2] {
			t.Fatalf("list: %+v, %v", page.Tasks, err)
		}
		if err := proxy.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		for _, st := range proxy.Snapshot().Statements {
			if strings.Contains(st.SQL, "ROLE") {
				t.Fatalf("the role is still switched: %s", st.SQL)
			}
		}
	}
}
