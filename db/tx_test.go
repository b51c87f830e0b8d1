package db

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// The prelude interpolates values into SQL: only what typed values can produce may appear.
func TestPreludeIsMadeOfTypedValuesOnly(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^BEGIN READ (ONLY|WRITE); SET LOCAL ROLE taskgraph_app; SET LOCAL app\.user_uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'(; SET LOCAL statement_timeout = [1-9][0-9]*)?$`)
	for i := range 200 {
		mode := access(i%2 == 0)
		timeout := time.Duration(i*7919) * time.Microsecond // 0 and sub-millisecond ones too
		p := prelude(mode, uuid.New(), timeout, false)
		if !re.MatchString(p) {
			t.Fatalf("prelude(%v, _, %v) = %q", mode, timeout, p)
		}
		if (timeout >= time.Millisecond) != regexp.MustCompile(`statement_timeout`).MatchString(p) {
			t.Fatalf("timeout %v gave %q", timeout, p)
		}
	}
	if p := prelude(readOnly, uuid.New(), 0, false); p[:15] != "BEGIN READ ONLY" {
		t.Fatalf("a read is %q", p)
	}
	if p := prelude(readOnly, uuid.New(), time.Second, true); strings.Contains(p, "ROLE") || !strings.Contains(p, "app.user_uuid") {
		t.Fatalf("logged in as the app role: %q", p)
	}
}

// oneSession is a Store whose pool has a single session, so that a later transaction runs on the
// session an earlier one used.
func oneSession(t *testing.T) (*Store, uuid.UUID) {
	t.Helper()
	x, err := Open(context.Background(), testkit.Route(t, testkit.NewDBURL(t)), Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return NewStore(x), testkit.CreateUser(t, x, "sub", "e@example.com", "N")
}

func pqCode(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

// Role, user and timeout hold inside the transaction and are gone after it, on the same session.
func TestTransactionSettingsEndWithIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, user := oneSession(t)
	s.StatementTimeout = 1500 * time.Millisecond
	var role, setUser, timeout string
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		return tx.QueryRowxContext(ctx, `SELECT current_user, current_setting('app.user_uuid'), current_setting('statement_timeout')`).Scan(&role, &setUser, &timeout)
	})
	if err != nil || role != AppRole || setUser != user.String() || timeout != "1500ms" {
		t.Fatalf("inside: %q %q %q, %v", role, setUser, timeout, err)
	}
	if err := s.x.QueryRowxContext(ctx, `SELECT current_user, current_setting('app.user_uuid', true), current_setting('statement_timeout')`).Scan(&role, &setUser, &timeout); err != nil {
		t.Fatal(err)
	}
	if role == AppRole || setUser != "" || timeout != "0" {
		t.Fatalf("after the transaction the session has %q %q %q", role, setUser, timeout)
	}
}

func TestStatementTimeoutCancelsAStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, user := oneSession(t)
	s.StatementTimeout = 50 * time.Millisecond
	err := s.withTx(ctx, user, readOnly, func(tx *txn, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_sleep(2)`)
		return err
	})
	if pqCode(err) != "57014" { // query_canceled
		t.Fatalf("err = %v, want a statement timeout", err)
	}
	if _, err := s.Tags(ctx, user); err != nil {
		t.Fatalf("the session is unusable after a timeout: %v", err)
	}
}

func TestReadsAreReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, user := oneSession(t)
	err := s.withTx(ctx, user, readOnly, func(tx *txn, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'x', $2)`, user, now)
		return err
	})
	if pqCode(err) != "25006" { // read_only_sql_transaction
		t.Fatalf("err = %v, want a read-only refusal", err)
	}
}

// A statement that failed rolls the transaction back even when its error was dropped.
func TestAFailedStatementIsNeverCommitted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, user := oneSession(t)
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'kept?', $2)`, user, now); err != nil {
			return err
		}
		_, _ = tx.ExecContext(ctx, `SELECT 1/0`) // dropped on purpose
		return nil
	})
	if err == nil {
		t.Fatal("withTx succeeded after a failed statement")
	}
	if tags, err := s.Tags(ctx, user); err != nil || len(tags) != 0 {
		t.Fatalf("tags %v, %v: the insert was committed", tags, err)
	}
}

// A request whose context ends mid-statement leaves no transaction open on the pooled session.
func TestACanceledTransactionLeavesAUsableSession(t *testing.T) {
	t.Parallel()
	s, user := oneSession(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.withTx(ctx, user, readWrite, func(tx *txn, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (user_uuid, name, created_at) VALUES ($1, 'half', $2)`, user, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `SELECT pg_sleep(2)`)
		return err
	})
	if err == nil {
		t.Fatal("no error from a canceled transaction")
	}
	if tags, err := s.Tags(context.Background(), user); err != nil || len(tags) != 0 {
		t.Fatalf("after cancel: tags %v, %v", tags, err)
	}
}

// Notifications queued in a transaction go out with its COMMIT, and not at all if it fails.
func TestNotifyIsSentWithTheCommitOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testkit.NewDBURL(t)
	x, err := Open(ctx, testkit.Route(t, url), Options{MaxConns: 1}) // the listener keeps the direct URL
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	s := NewStore(x)
	user := testkit.CreateUser(t, x, "sub", "e@example.com", "N")
	l := pq.NewListener(url, time.Second, time.Second, nil)
	defer l.Close()
	if err := l.Listen("taskgraph_test"); err != nil {
		t.Fatal(err)
	}
	send := func(payload string, fail bool) error {
		return s.withTx(ctx, user, readWrite, func(tx *txn, _ time.Time) error {
			tx.notify("taskgraph_test", payload)
			if fail {
				return errors.New("the operation failed")
			}
			return nil
		})
	}
	if err := send("it's rolled back", true); err == nil {
		t.Fatal("the failing operation succeeded")
	}
	if err := send(`it's "committed" \o/`, false); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-l.Notify:
		if n == nil || n.Extra != `it's "committed" \o/` {
			t.Fatalf("notification %+v, want only the committed one", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after the commit")
	}
}
