package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// liveCluster is a private PostgreSQL cluster with wal_level=logical for the live rows (subscribe,
// create-live, writers): the shared cluster runs wal_level=replica and is never reconfigured, and
// issue 19's targets are about the logical feed. Durability is the default's (fsync,
// synchronous_commit and full_page_writes on), as on the shared cluster, so writers pay for
// their commits as they would in production. It runs from a temporary directory, as the postgres
// user when the bench runs as root (initdb refuses root), and is stopped and removed at the end.
type liveCluster struct {
	url   string // the postgres database as the superuser postgres (trust)
	dir   string
	data  string
	bin   string
	owner *user.User // set when we are root
}

// liveClusterSettings are appended to the new cluster's postgresql.conf. shared_buffers and
// max_wal_size are the shared cluster's; connections cover 32 pgbench writers, the servers'
// pools and the feeds.
var liveClusterSettings = []string{
	"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 10",
	"max_connections = 200", "shared_buffers = 128MB", "max_wal_size = 1GB",
}

// startLiveCluster runs initdb and pg_ctl of the newest Debian PostgreSQL on a free port.
func startLiveCluster(ctx context.Context) (*liveCluster, error) {
	bin := postgresBindir()
	if bin == "" {
		return nil, errors.New("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin: install postgresql, or set BENCH_LIVE_PG_URL to a cluster with wal_level=logical")
	}
	dir, err := os.MkdirTemp("", "taskgraph-bench-pg-")
	if err != nil {
		return nil, err
	}
	c := &liveCluster{dir: dir, data: filepath.Join(dir, "data"), bin: bin}
	if os.Geteuid() == 0 {
		if c.owner, err = user.Lookup("postgres"); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(c.owner.Uid)
		gid, _ := strconv.Atoi(c.owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	fail := func(err error) (*liveCluster, error) { c.stop(); return nil, err }
	if out, err := c.command(ctx, "initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n", port, dir)
	for _, s := range liveClusterSettings {
		conf += s + "\n"
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		_ = f.Close()
	}
	if err != nil {
		return fail(err)
	}
	if out, err := c.command(ctx, "pg_ctl", "-D", c.data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return fail(fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log))
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("postgres", c.url)
		if err == nil {
			err = db.PingContext(ctx)
			_ = db.Close()
		}
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the private cluster does not answer: %w", err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the cluster down (immediate: nothing in it is kept) and removes its directory.
func (c *liveCluster) stop() {
	if c == nil {
		return
	}
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
		_ = c.command(context.Background(), "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "-t", "30", "stop").Run()
	}
	_ = os.RemoveAll(c.dir)
}

// command runs a PostgreSQL binary, as the postgres user when we are root.
func (c *liveCluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	cmd := exec.CommandContext(ctx, bin, args...)
	if c.owner != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.owner.Username, "--", bin}, args...)...)
	}
	cmd.Dir = c.dir
	cmd.Env = append(baseEnv(), "LC_ALL=C")
	return cmd
}

// postgresBindir is the newest /usr/lib/postgresql/<major>/bin holding initdb and pg_ctl.
func postgresBindir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(dirs, func(a, b string) int { return major(b) - major(a) })
	for _, d := range dirs {
		_, err1 := os.Stat(filepath.Join(d, "initdb"))
		_, err2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if err1 == nil && err2 == nil {
			return d
		}
	}
	return ""
}
