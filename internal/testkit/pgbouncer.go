package testkit

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PgBouncer is a real PgBouncer (Debian's package) in transaction pooling mode in front of the
// test PostgreSQL, started for one test and stopped by PID when it ends. With transaction pooling
// every transaction may run on any server connection, so anything a session keeps (a plain SET,
// LISTEN, a named prepared statement on PgBouncer before 1.21) leaks or breaks: that is what the
// pooler tests are for.
type PgBouncer struct {
	// Addr is the pooler's host:port on 127.0.0.1.
	Addr string
	// AdminURL reaches PgBouncer's admin console (SHOW POOLS, SHOW SERVERS) as postgres.
	AdminURL string
	cmd      *exec.Cmd
	log      *SyncBuffer
}

// PgBouncerOptions tune the pooler. Zero values take the defaults.
type PgBouncerOptions struct {
	// PoolSize is default_pool_size: server connections per (database, user). Default 4, small
	// enough that transactions of different users really share server connections.
	PoolSize int
}

// pgbouncerBinary is where Debian's pgbouncer package installs it.
const pgbouncerBinary = "/usr/sbin/pgbouncer"

// StartPgBouncer starts PgBouncer in front of the PostgreSQL of TEST_DATABASE_URL. A missing
// pgbouncer binary fails the test under CI (which installs it) and skips it elsewhere.
func StartPgBouncer(t testing.TB, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = pgbouncerBinary
		if _, err := os.Stat(bin); err != nil {
			msg := "testkit: pgbouncer is not installed (apt-get install -y pgbouncer)"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg + " (skipping; set CI=1 to make this a failure)")
		}
	}
	target := testServer(t)
	if opts.PoolSize <= 0 {
		opts.PoolSize = 4
	}
	port := freePort(t)
	dir := pgbouncerDir(t)
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = postgres
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
max_db_connections = 0
server_reset_query =
server_check_delay = 0
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
`, target.Hostname(), portOf(target), port, filepath.Join(dir, "userlist.txt"), opts.PoolSize)
	// Trust authentication still wants every user in the auth file; PostgreSQL itself is trust
	// on loopback here, so the passwords only have to match what the clients send.
	users := `"postgres" ""` + "\n" + fmt.Sprintf(`"%s" "%s"`, testRole.Username, testRole.Password) + "\n"
	if u := target.User.Username(); u != "" && u != "postgres" && u != testRole.Username {
		pw, _ := target.User.Password()
		users += fmt.Sprintf(`"%s" "%s"`, u, pw) + "\n"
	}
	writeFile(t, filepath.Join(dir, "pgbouncer.ini"), ini)
	writeFile(t, filepath.Join(dir, "userlist.txt"), users)

	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; Debian's package comes with the postgres user.
		if _, err := user.Lookup("postgres"); err != nil {
			t.Fatalf("testkit: running as root and there is no postgres user for pgbouncer -u: %v", err)
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	p := &PgBouncer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: &SyncBuffer{}}
	p.AdminURL = "postgres://postgres@" + p.Addr + "/pgbouncer?sslmode=disable"
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testkit: start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt) // SIGINT: immediate shutdown
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-exited
		}
	})
	p.waitReady(t, exited)
	return p
}

// URL returns databaseURL (a URL of the test PostgreSQL, e.g. from NewDBURL) rewritten to go
// through the pooler: same user, password, database and options.
func (p *PgBouncer) URL(t testing.TB, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("testkit: not a database URL: %v", err)
	}
	u.Host = p.Addr
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Log is what PgBouncer has printed so far.
func (p *PgBouncer) Log() string { return p.log.String() }

func (p *PgBouncer) waitReady(t testing.TB, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("testkit: pgbouncer exited at start:\n%s", p.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("testkit: pgbouncer did not listen on %s within 10s:\n%s", p.Addr, p.Log())
}

// testServer is the PostgreSQL the tests use (TEST_DATABASE_URL), checked to answer.
func testServer(t testing.TB) *url.URL {
	t.Helper()
	conf := baseConfig(t) // skips or fails when PostgreSQL is unreachable
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(conf.Host, conf.Port), Path: "/" + conf.Database}
	if conf.Password != "" {
		u.User = url.UserPassword(conf.User, conf.Password)
	} else {
		u.User = url.User(conf.User)
	}
	return u
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "5432"
}

func freePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pgbouncerDir is a directory the pgbouncer process can read even when it drops root for postgres.
func pgbouncerDir(t testing.TB) string {
	t.Helper()
	// t.TempDir's parents are private to the test's user; a world-readable directory of our own
	// under os.TempDir is what a process running as postgres can read.
	own, err := os.MkdirTemp("", "taskgraph-pgbouncer-")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(own) })
	if err := os.Chmod(own, 0o755); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return own
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("testkit: write %s: %v", path, err)
	}
}
