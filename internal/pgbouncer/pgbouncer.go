// Package pgbouncer runs a real PgBouncer (Debian's package), in transaction pooling mode unless
// told otherwise, in front of a PostgreSQL server, for the pooler tests (internal/testkit) and
// the benchmark's page1-pgbouncer scenario (bench). It writes its own configuration, listens on a
// free port of 127.0.0.1 and is stopped by PID.
package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Binary is where Debian's pgbouncer package installs it (used when it is not on PATH).
const Binary = "/usr/sbin/pgbouncer"

// ErrNotInstalled is returned by Start when there is no pgbouncer to run.
var ErrNotInstalled = errors.New("pgbouncer is not installed (apt-get install -y pgbouncer)")

// Options describe the pooler. Zero values take the defaults.
type Options struct {
	// Server is the PostgreSQL behind the pooler, as a postgres:// URL; only its host and port
	// are used (every database name is passed through).
	Server string
	// Users are the login roles clients may connect as, with their passwords: trust
	// authentication still wants every user in PgBouncer's auth file. postgres is always there.
	Users map[string]string
	// PoolSize is default_pool_size: server connections per (database, user). Default 4, small
	// enough that transactions of different users really share server connections.
	PoolSize int
	// MaxClients is max_client_conn. Default 1000.
	MaxClients int
	// Mode is pool_mode: "transaction" (the default) or "statement" (which the server cannot
	// use: its transactions are refused there).
	Mode string
}

// Process is a running PgBouncer.
type Process struct {
	// Addr is the pooler's host:port on 127.0.0.1.
	Addr string
	// AdminURL reaches PgBouncer's admin console (SHOW POOLS, SHOW SERVERS) as postgres. The
	// console speaks only the simple query protocol: statements without arguments.
	AdminURL string
	cmd      *exec.Cmd
	dir      string
	log      *os.File // what PgBouncer prints, in dir
	exited   chan struct{}
}

// Start starts PgBouncer and waits until it accepts connections.
func Start(opts Options) (*Process, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	server, err := url.Parse(opts.Server)
	if err != nil || server.Hostname() == "" {
		return nil, fmt.Errorf("pgbouncer: server %q is not a postgres:// URL with a host", opts.Server)
	}
	opts = opts.withDefaults()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// A directory of our own that the pgbouncer process can read when it drops root for postgres.
	dir, err := os.MkdirTemp("", "taskgraph-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	p := &Process{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, exited: make(chan struct{})}
	p.AdminURL = "postgres://postgres@" + p.Addr + "/pgbouncer?sslmode=disable"
	if err := p.start(bin, server, port, opts); err != nil {
		p.cleanup()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(10 * time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// binary is the pgbouncer on PATH, or Debian's.
func binary() (string, error) {
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(Binary); err != nil {
		return "", ErrNotInstalled
	}
	return Binary, nil
}

func (o Options) withDefaults() Options {
	if o.PoolSize <= 0 {
		o.PoolSize = 4
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 1000
	}
	if o.Mode == "" {
		o.Mode = "transaction"
	}
	return o
}

// start writes the configuration and starts the process, its output going to pgbouncer.log.
func (p *Process) start(bin string, server *url.URL, port int, opts Options) error {
	if err := p.writeConfig(server, port, opts); err != nil {
		return err
	}
	args := []string{filepath.Join(p.dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; Debian's PostgreSQL packages come with the postgres user.
		if _, err := user.Lookup("postgres"); err != nil {
			return fmt.Errorf("pgbouncer: running as root and there is no postgres user for pgbouncer -u: %w", err)
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	var err error
	if p.log, err = os.Create(filepath.Join(p.dir, "pgbouncer.log")); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("pgbouncer: start: %w", err)
	}
	return nil
}

// config is PgBouncer's configuration: transaction pooling by default, no reset query (a
// transaction-mode pool runs none between clients anyway, and the tests must see what a session
// really keeps), connections logged off. server_check_delay is PgBouncer's default, 30 s: a
// server connection idle that long is checked with server_check_query (select 1) before it is
// handed out again; 0 would mean "check every time", an extra round trip per transaction (the
// bench saw 4 round trips per page1 request instead of 3).
const config = `[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = postgres
pool_mode = %s
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = %d
max_db_connections = 0
server_reset_query =
server_check_delay = 30
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
`

func (p *Process) writeConfig(server *url.URL, port int, opts Options) error {
	if err := os.Chmod(p.dir, 0o755); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	serverPort := server.Port()
	if serverPort == "" {
		serverPort = "5432"
	}
	auth := filepath.Join(p.dir, "userlist.txt")
	ini := fmt.Sprintf(config, server.Hostname(), serverPort, port, auth, opts.Mode, opts.PoolSize, opts.MaxClients)
	var users strings.Builder
	users.WriteString(`"postgres" ""` + "\n")
	for name, password := range opts.Users {
		if name != "postgres" {
			fmt.Fprintf(&users, "%q %q\n", name, password)
		}
	}
	if err := os.WriteFile(filepath.Join(p.dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	if err := os.WriteFile(auth, []byte(users.String()), 0o644); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	return nil
}

// URL returns databaseURL rewritten to go through the pooler: same user, password, database and
// options.
func (p *Process) URL(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("pgbouncer: not a database URL: %w", err)
	}
	u.Host = p.Addr
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Pid is the pgbouncer process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log is what PgBouncer has printed so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "pgbouncer.log"))
	return string(b)
}

// Stop interrupts PgBouncer (SIGINT: immediate shutdown), kills it if it has not exited within 5
// seconds, and removes its configuration.
func (p *Process) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.cleanup()
}

func (p *Process) cleanup() {
	if p.log != nil {
		_ = p.log.Close()
	}
	_ = os.RemoveAll(p.dir)
}

func (p *Process) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("pgbouncer exited at start:\n%s", p.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("pgbouncer did not listen on %s within %s:\n%s", p.Addr, within, p.Log())
}

func freePort() (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgbouncer: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
