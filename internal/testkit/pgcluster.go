package testkit

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
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
	env               []string   // the binaries' environment; nil is os.Environ()
}

// ErrNoPostgres says no PostgreSQL server binaries (initdb, pg_ctl) were found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries (initdb, pg_ctl) found")

// ClusterOptions shape a private cluster made by NewPostgres.
type ClusterOptions struct {
	// Durable keeps PostgreSQL's durability defaults (fsync, synchronous_commit and
	// full_page_writes on) and its sizes, for the bench's writers to pay for their commits as in
	// production. Tests leave it off: no fsync, a small cluster.
	Durable bool
	// Settings are extra postgresql.conf lines (e.g. "wal_level = logical"), after the defaults.
	Settings []string
	// Env is the binaries' environment (LC_ALL=C is added); nil is os.Environ().
	Env []string
	// DirPrefix names the temporary directory (os.MkdirTemp's pattern); empty is "taskgraph-pg-".
	DirPrefix string
}

// StartPostgres creates and starts a cluster (NewPostgres), stopped and removed when the test
// ends. Missing binaries fail the test under CI and skip it elsewhere. settings are extra
// postgresql.conf lines (e.g. "wal_level = logical").
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	p, err := NewPostgres(context.Background(), ClusterOptions{Settings: settings})
	skipIfMissing(t, err, ErrNoPostgres)
	t.Cleanup(p.Close)
	return p
}

// NewPostgres creates and starts a cluster; Close stops and removes it. Binaries are taken from
// TEST_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (Debian's layout), else pg_config
// --bindir; none is ErrNoPostgres. initdb and pg_ctl refuse to run as root, so as root they run
// as the postgres user (runuser), in a directory that user owns.
func NewPostgres(ctx context.Context, opts ClusterOptions) (*Postgres, error) {
	bindir := postgresBindir()
	if bindir == "" {
		return nil, fmt.Errorf("%w; install postgresql or set TEST_PG_BINDIR", ErrNoPostgres)
	}
	prefix := cmp.Or(opts.DirPrefix, "taskgraph-pg-")
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	p := &Postgres{bindir: bindir, dir: dir, data: filepath.Join(dir, "data"), env: opts.Env}
	if err := p.create(ctx, opts); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// create runs initdb, writes postgresql.conf and starts the cluster.
func (p *Postgres) create(ctx context.Context, opts ClusterOptions) error {
	if os.Geteuid() == 0 {
		var err error
		if p.owner, err = user.Lookup("postgres"); err != nil {
			return fmt.Errorf("running as root and there is no postgres user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(p.owner.Uid)
		gid, _ := strconv.Atoi(p.owner.Gid)
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return err
		}
	}
	if out, err := p.command(ctx, "initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	p.Port = port
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	if err := p.appendConf(opts); err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	return p.start(ctx)
}

// appendConf adds the address, the socket directory, the options' settings and (unless Durable)
// the tests' speed settings to postgresql.conf.
func (p *Postgres) appendConf(opts ClusterOptions) error {
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n", p.Port, p.dir)
	if !opts.Durable {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\nshared_buffers = 16MB\n"
	}
	for _, line := range opts.Settings {
		conf += line + "\n"
	}
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops the cluster (immediate: nothing in it is kept) and removes its directory.
func (p *Postgres) Close() {
	if _, err := os.Stat(filepath.Join(p.data, "postmaster.pid")); err == nil {
		_ = p.command(context.Background(), "pg_ctl", "-D", p.data, "-m", "immediate", "-w", "-t", "30", "stop").Run()
	}
	_ = os.RemoveAll(p.dir)
}

// Start starts the (stopped) cluster and waits until it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if err := p.start(context.Background()); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}

func (p *Postgres) start(ctx context.Context) error {
	if out, err := p.command(ctx, "pg_ctl", "-D", p.data, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		db, err := sql.Open("postgres", p.URL)
		if err == nil {
			err = db.PingContext(ctx)
			_ = db.Close()
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the private PostgreSQL does not answer after start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the cluster down (fast: open sessions are terminated) and waits until it is down.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if out, err := p.command(context.Background(), "pg_ctl", "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		t.Fatalf("testkit: pg_ctl stop: %v\n%s", err, out)
	}
}

// command runs a PostgreSQL binary, as the postgres user when we are root.
func (p *Postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.bindir, name)
	var cmd *exec.Cmd
	if p.owner != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.owner.Username, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = p.dir
	env := p.env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(slices.Clip(env), "LC_ALL=C")
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

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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
