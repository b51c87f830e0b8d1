package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peterldowns/pgtestdb"
)

// Postgres is a private PostgreSQL cluster for one test: initdb and pg_ctl of the installed
// PostgreSQL on a free loopback port, in a temporary directory, removed when the test ends. Fault
// tests stop and restart it; the shared server on TEST_DATABASE_URL is never touched. Its
// superuser is postgres with trust authentication.
type Postgres struct {
	// URL reaches the cluster's postgres database as the superuser.
	URL  string
	Port int

	bindir, dir, data string
	owner             *user.User // the user that runs the cluster when we are root
}

// StartPostgres creates and starts a cluster. Binaries are taken from TEST_PG_BINDIR, else the
// newest /usr/lib/postgresql/*/bin (Debian's layout), else pg_config --bindir. Missing binaries
// fail the test under CI and skip it elsewhere. initdb and pg_ctl refuse to run as root, so as root
// they run as the postgres user (runuser), in a directory that user owns. settings are extra
// postgresql.conf lines (e.g. "wal_level = logical").
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	bindir := postgresBindir()
	if bindir == "" {
		msg := "testkit: no PostgreSQL server binaries (initdb, pg_ctl) found; install postgresql or set TEST_PG_BINDIR"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (skipping; set CI=1 to make this a failure)")
	}
	dir, err := os.MkdirTemp("", "taskgraph-pg-")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	p := &Postgres{bindir: bindir, dir: dir, data: filepath.Join(dir, "data")}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		if p.owner, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("testkit: running as root and there is no postgres user to run initdb as: %v", err)
		}
		uid, _ := strconv.Atoi(p.owner.Uid)
		gid, _ := strconv.Atoi(p.owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("testkit: %v", err)
		}
	}
	if out, err := p.command("initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-locale", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testkit: initdb: %v\n%s", err, out)
	}
	p.Port = freeLoopbackPort(t)
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\nshared_buffers = 16MB\n",
		p.Port, dir)
	for _, line := range settings {
		conf += line + "\n"
	}
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		_ = f.Close()
	}
	if err != nil {
		t.Fatalf("testkit: postgresql.conf: %v", err)
	}
	p.Start(t)
	t.Cleanup(func() {
		_ = p.command("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "-t", "30", "stop").Run()
	})
	return p
}

// Start starts the (stopped) cluster and waits until it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if out, err := p.command("pg_ctl", "-D", p.data, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		t.Fatalf("testkit: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		db, err := sql.Open("postgres", p.URL)
		if err == nil {
			err = db.PingContext(ctx)
			_ = db.Close()
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("testkit: the private PostgreSQL does not answer after start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the cluster down (fast: open sessions are terminated) and waits until it is down.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if out, err := p.command("pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		t.Fatalf("testkit: pg_ctl stop: %v\n%s", err, out)
	}
}

// command runs a PostgreSQL binary, as the postgres user when we are root.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.bindir, name)
	var cmd *exec.Cmd
	if p.owner != nil {
		cmd = exec.Command("runuser", append([]string{"-u", p.owner.Username, "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

func postgresBindir() string {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("TEST_PG_BINDIR"); d != "" {
		if has(d) {
			return d
		}
		return ""
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) }) // newest first
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d
		}
	}
	return ""
}

// versionOf reads the major version out of /usr/lib/postgresql/<major>/bin.
func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartLogicalPostgres starts a private cluster with wal_level = logical, where live updates read
// the WAL (package live's logical feed).
func StartLogicalPostgres(t testing.TB) *Postgres {
	t.Helper()
	return StartPostgres(t, "wal_level = logical", "max_wal_senders = 20", "max_replication_slots = 20", "wal_sender_timeout = 10s",
		"synchronous_commit = on") // off, a commit reaches the WAL sender up to wal_writer_delay later
}

// NewDBURL creates a fresh, fully migrated database on this cluster, as testkit.NewDBURL does on
// the shared one, and returns its URL. Its user (the test role, no superuser) may open
// replication connections, as DATABASE_LISTEN_URL's user must for the logical feed.
func (p *Postgres) NewDBURL(t testing.TB) string {
	t.Helper()
	// pgtestdb remembers the roles it made per process, not per cluster: make ours here.
	db, err := sql.Open("postgres", p.URL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	defer db.Close()
	_, err = db.Exec(`DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + testRole.Username + `') THEN
			CREATE ROLE ` + testRole.Username + ` LOGIN PASSWORD '` + testRole.Password + `' ` + testRole.Capabilities + `;
		END IF; END $$`)
	if err == nil {
		_, err = db.Exec(`ALTER ROLE ` + testRole.Username + ` REPLICATION`)
	}
	if err != nil {
		t.Fatalf("testkit: the test role: %v", err)
	}
	return pgtestdb.Custom(t, configFor(t, p.URL), clusterMigrator{p.Port}).URL()
}

// clusterMigrator is migrator with a template of its own per cluster: pgtestdb remembers the
// templates it made per process, by the migrator's hash.
type clusterMigrator struct{ port int }

func (m clusterMigrator) Hash() (string, error) {
	h, err := migrator{}.Hash()
	return fmt.Sprintf("%s_%d", h, m.port), err
}

func (clusterMigrator) Migrate(ctx context.Context, db *sql.DB, c pgtestdb.Config) error {
	return migrator{}.Migrate(ctx, db, c)
}

// WaitSlotsGone waits (up to 10 s) until the database x is connected to has no replication slot
// left: a temporary slot goes a moment after its connection closes, and a database cannot be
// dropped while one is there. Call it after closing the live hubs, before the database is dropped.
func WaitSlotsGone(t testing.TB, x *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := x.QueryRow(`SELECT count(*) FROM pg_replication_slots WHERE database = current_database()`).Scan(&n)
		if err != nil || n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
