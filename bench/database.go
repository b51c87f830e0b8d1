package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"text/template"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed seed.sql
var seedSQL string

var seedTemplate = template.Must(template.New("seed").Parse(seedSQL))

// benchDB is one build's database.
type benchDB struct {
	name string
	url  string   // postgres:// URL of the database, as the server's DATABASE_URL
	x    *sqlx.DB // a superuser pool for the runner (bypasses RLS)
}

func openAdmin(ctx context.Context, pgURL string) (*sqlx.DB, error) {
	x, err := sqlx.Open("postgres", pgURL)
	if err != nil {
		return nil, err
	}
	if err := x.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("PostgreSQL at BENCH_PG_URL: %w", err)
	}
	x.SetMaxOpenConns(2)
	return x, nil
}

// withDatabase returns pgURL naming another database.
func withDatabase(pgURL, name string) (string, error) {
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// createDB creates an empty database named after the build, unique to this run.
func createDB(ctx context.Context, admin *sqlx.DB, pgURL, build string) (*benchDB, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "taskgraph_bench_" + build + "_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, err := withDatabase(pgURL, name)
	if err != nil {
		return nil, err
	}
	x, err := sqlx.Open("postgres", u)
	if err != nil {
		return nil, err
	}
	x.SetMaxOpenConns(4)
	return &benchDB{name: name, url: u, x: x}, nil
}

func dropDB(admin *sqlx.DB, d *benchDB) error {
	_ = d.x.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(d.name)+" WITH (FORCE)")
	return err
}

// migrate applies the migrations with the build's own binary, as an operator would.
func migrate(ctx context.Context, bin string, d *benchDB) error {
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = append(baseEnv(), "DATABASE_URL="+d.url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s migrate: %w\n%s", bin, err, out)
	}
	return nil
}

// seed fills the database (bench/seed.sql) and vacuums it, as a long-lived database would be.
func seed(ctx context.Context, cfg config, d *benchDB) error {
	var sql bytes.Buffer
	if err := seedTemplate.Execute(&sql, map[string]int{"Users": cfg.Users, "Tasks": cfg.Tasks, "HeavyTasks": cfg.HeavyTasks}); err != nil {
		return err
	}
	conn, err := d.x.Connx(ctx) // one session: the seed's SETs and temp table live in it
	if err != nil {
		return err
	}
	defer conn.Close()
	// The seed drops and rebuilds the secondary indexes: measuring without one would mislead.
	const indexes = `SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indexrelid::regclass::text)
		FROM pg_index WHERE indrelid IN ('tasks'::regclass, 'task_tags'::regclass)`
	var before, after string
	if err := conn.GetContext(ctx, &before, indexes); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, sql.String()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := conn.GetContext(ctx, &after, indexes); err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("seed: the indexes differ after the seed:\nbefore: %s\nafter:  %s", before, after)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// userData is what the runner knows of one user: who they are and a few of their ids.
type userData struct {
	sub, uuid, email, name string
	tagIDs                 []string // all 8, by name
	taskIDs                []string // a few, for task(id)
}

type dataset struct {
	users []*userData // the users whose tokens round-robin
	heavy *userData
}

// loadDataset reads the seeded users back: the first n regular users and the heavy one.
func loadDataset(ctx context.Context, d *benchDB, n int) (*dataset, error) {
	ds := &dataset{}
	load := func(i int) (*userData, error) {
		u := &userData{sub: fmt.Sprintf("bench-user-%d", i)}
		if err := d.x.QueryRowxContext(ctx, `SELECT uuid, email, name FROM "user" WHERE id = $1`, u.sub).
			Scan(&u.uuid, &u.email, &u.name); err != nil {
			return nil, fmt.Errorf("user %s: %w", u.sub, err)
		}
		if err := d.x.SelectContext(ctx, &u.tagIDs, `SELECT id FROM tags WHERE user_uuid = $1 ORDER BY name`, u.uuid); err != nil {
			return nil, err
		}
		if err := d.x.SelectContext(ctx, &u.taskIDs, `SELECT id FROM tasks WHERE user_uuid = $1 ORDER BY id LIMIT 5`, u.uuid); err != nil {
			return nil, err
		}
		if len(u.tagIDs) < 2 || len(u.taskIDs) == 0 {
			return nil, fmt.Errorf("user %s has %d tags and %d tasks", u.sub, len(u.tagIDs), len(u.taskIDs))
		}
		return u, nil
	}
	for i := 1; i <= n; i++ {
		u, err := load(i)
		if err != nil {
			return nil, err
		}
		ds.users = append(ds.users, u)
	}
	var err error
	ds.heavy, err = load(0)
	return ds, err
}

// sessions is PostgreSQL's count of sessions ever opened on the database (pg_stat_database,
// flushed by backends at most about once a second, so deltas are good to about a second's worth).
func sessions(ctx context.Context, admin *sqlx.DB, name string) (int64, error) {
	var n int64
	err := admin.QueryRowxContext(ctx, `SELECT sessions FROM pg_stat_database WHERE datname = $1`, name).Scan(&n)
	return n, err
}

// baseEnv is the environment the runner passes on to what it starts: enough to run, nothing of
// the caller's database or auth settings.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// pgConnArgs are pgbench's connection flags for pgURL.
func pgConnArgs(pgURL string) []string {
	u, err := url.Parse(pgURL)
	if err != nil {
		return nil
	}
	args := []string{"-h", u.Hostname()}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	if n := u.User.Username(); n != "" {
		args = append(args, "-U", n)
	}
	return args
}

func pgPassword(pgURL string) string {
	u, err := url.Parse(pgURL)
	if err != nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// hostPort is the host:port of a postgres URL, for the proxy.
func hostPort(pgURL string) string {
	u, err := url.Parse(pgURL)
	if err != nil {
		return ""
	}
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}

// pgArray is a text[] literal of ids (uuids need no quoting).
func pgArray(ids []string) string { return "{" + strings.Join(ids, ",") + "}" }
