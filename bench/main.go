// Command bench is `make bench`: it builds the server, gives it a fresh seeded database and a
// local JWKS, measures each scenario under load, measures PostgreSQL itself on the same rows with
// pgbench in the same run, and prints one table. See bench/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := run
	if len(os.Args) > 1 && os.Args[1] == "soak" {
		run = runSoak // make soak: bench/soak.go
	}
	if len(os.Args) > 1 && os.Args[1] == "chart" {
		run = func(context.Context) error { return chartCommand() } // latest.svg from runs.tsv: bench/chart.go
	}
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is read from BENCH_* variables; see bench/README.md.
type config struct {
	Duration   time.Duration // BENCH_DURATION: measured window per scenario and build
	Warmup     time.Duration // BENCH_WARMUP
	PgbenchDur time.Duration // BENCH_PGBENCH_DURATION
	Conns      int           // BENCH_CONNS
	Baseline   string        // BENCH_BASELINE: a git revision to compare with
	Scenarios  []string      // BENCH_SCENARIOS: a subset, comma-separated
	Subscribe  bool          // the subscribe scenario (bench/subscribe.go) is among them
	CreateLive bool          // create-live (bench/live.go) is among them
	Writers    bool          // the pgbench writers row (bench/live.go) is among them
	LivePGURL  string        // BENCH_LIVE_PG_URL: a wal_level=logical cluster for the live rows; "" starts a private one
	Profile    bool          // BENCH_PROFILE: CPU and allocation profiles of page1
	Keep       bool          // BENCH_KEEP: keep the databases
	PGURL      string        // BENCH_PG_URL: the PostgreSQL to create the databases on
	Out        string        // BENCH_OUT: where the run's files go
	ServerEnv  []string      // BENCH_SERVER_ENV: extra VAR=value for the server, space-separated
	Samples    int           // BENCH_SAMPLES: calibrated requests per scenario

	// The data set (the issue's; smaller only to iterate on the harness itself).
	Users, Tasks, HeavyTasks int // BENCH_USERS, BENCH_TASKS, BENCH_HEAVY_TASKS
	TokenUsers               int // users whose tokens round-robin
}

func configFromEnv() (config, error) {
	c := config{
		Duration: 10 * time.Second, Warmup: time.Second, Conns: 20, Samples: 20,
		PGURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		Users: 2000, Tasks: 200, HeavyTasks: 50000, TokenUsers: 200,
		Scenarios: scenarioNames(), Subscribe: true, CreateLive: true, Writers: true,
	}
	var errs []error
	dur := func(key string, dst *time.Duration) {
		if v := os.Getenv(key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (e.g. 10s)", key, v))
			}
			*dst = d
		}
	}
	num := func(key string, dst *int, least int) {
		if v := os.Getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < least {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer ≥ %d", key, v, least))
			}
			*dst = n
		}
	}
	dur("BENCH_DURATION", &c.Duration)
	dur("BENCH_WARMUP", &c.Warmup)
	c.PgbenchDur = max(time.Second, (c.Duration / 2).Round(time.Second))
	dur("BENCH_PGBENCH_DURATION", &c.PgbenchDur)
	num("BENCH_CONNS", &c.Conns, 1)
	num("BENCH_SAMPLES", &c.Samples, 1)
	num("BENCH_USERS", &c.Users, 1)
	num("BENCH_TASKS", &c.Tasks, 100)
	num("BENCH_HEAVY_TASKS", &c.HeavyTasks, pageDepth*20+20)
	c.TokenUsers = min(c.TokenUsers, c.Users)
	c.Baseline = os.Getenv("BENCH_BASELINE")
	c.Profile = os.Getenv("BENCH_PROFILE") != "" && os.Getenv("BENCH_PROFILE") != "0"
	c.Keep = os.Getenv("BENCH_KEEP") != "" && os.Getenv("BENCH_KEEP") != "0"
	if v := os.Getenv("BENCH_PG_URL"); v != "" {
		c.PGURL = v
	}
	c.ServerEnv = strings.Fields(os.Getenv("BENCH_SERVER_ENV"))
	for _, kv := range c.ServerEnv {
		if !strings.Contains(kv, "=") {
			errs = append(errs, fmt.Errorf("BENCH_SERVER_ENV: %q is not VAR=value", kv))
		}
	}
	if v := os.Getenv("BENCH_SCENARIOS"); v != "" {
		c.Scenarios, c.Subscribe, c.CreateLive, c.Writers = nil, false, false, false
		for _, s := range strings.Split(v, ",") {
			switch s = strings.TrimSpace(s); s {
			case liveScenario:
				c.Subscribe = true
				continue
			case createLiveScenario:
				c.CreateLive = true
				continue
			case writersScenario:
				c.Writers = true
				continue
			}
			if scenarioByName(s) == nil {
				errs = append(errs, fmt.Errorf("BENCH_SCENARIOS: no scenario %q (have %s, %s, %s, %s)", s,
					strings.Join(scenarioNames(), ", "), liveScenario, createLiveScenario, writersScenario))
			}
			c.Scenarios = append(c.Scenarios, s)
		}
	}
	c.LivePGURL = os.Getenv("BENCH_LIVE_PG_URL")
	c.Out = os.Getenv("BENCH_OUT")
	if c.Out == "" {
		c.Out = filepath.Join("bench", "out", time.Now().Format("20060102-150405"))
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	started := time.Now()
	r := &runner{cfg: cfg, root: root, log: newLog(cfg.Out)}
	defer r.cleanup()
	r.log.printf("bench: output in %s", cfg.Out)

	if r.machine, err = describeMachine(ctx, cfg.PGURL); err != nil {
		return err
	}
	if r.admin, err = openAdmin(ctx, cfg.PGURL); err != nil {
		return err
	}
	if r.key, err = newSigningKey(); err != nil {
		return err
	}

	// Builds: the baseline first, so that each scenario measures it and then the current tree.
	if cfg.Baseline != "" {
		b, err := r.prepareBuild(ctx, "baseline", cfg.Baseline)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", cfg.Baseline, err)
		}
		r.builds = append(r.builds, b)
	}
	cur, err := r.prepareBuild(ctx, "current", "")
	if err != nil {
		return err
	}
	r.builds = append(r.builds, cur)

	if err := r.measureAll(ctx); err != nil {
		return err
	}
	// The live rows: the current build only (a baseline may predate the logical feed), on the
	// live cluster (bench/live.go).
	var lb *build
	if cfg.Subscribe || cfg.CreateLive || cfg.Writers {
		if lb, err = r.prepareLive(ctx, cur); err != nil {
			return err
		}
	}
	if cfg.CreateLive {
		if r.createLive, err = r.measureCreateLive(ctx, lb); err != nil {
			return fmt.Errorf("%s: %w", createLiveScenario, err)
		}
	}
	if cfg.Subscribe {
		for _, layout := range liveLayouts {
			row, err := r.measureSubscribe(ctx, lb, lb.srv, layout, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", layout.name, err)
			}
			r.live = append(r.live, row)
		}
	}
	if cfg.Writers { // last: it stops the live build's server
		if r.writers, err = r.measureWriters(ctx, lb); err != nil {
			return fmt.Errorf("%s: %w", writersScenario, err)
		}
	}
	report := r.report(time.Since(started))
	fmt.Println()
	fmt.Print(report)
	if err := os.WriteFile(filepath.Join(cfg.Out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	if err := r.writeJSON(filepath.Join(cfg.Out, "results.json")); err != nil {
		return err
	}
	if err := r.writeChart(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if cfg.Profile {
		if len(cfg.Scenarios) > 0 {
			if err := r.profile(ctx, cur); err != nil {
				return fmt.Errorf("profile: %w", err)
			}
		}
		if cfg.CreateLive {
			if err := r.profileCreateLive(ctx, lb); err != nil {
				return fmt.Errorf("profile %s: %w", createLiveScenario, err)
			}
		}
		if cfg.Subscribe {
			if err := r.profileSubscribe(ctx, lb); err != nil {
				return fmt.Errorf("profile %s: %w", liveScenario, err)
			}
		}
	}
	r.log.printf("bench: done in %s; results in %s", time.Since(started).Round(time.Second), cfg.Out)
	return nil
}

// repoRoot is the module root: `go run ./bench` runs from it (make bench does).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/taskgraph/taskgraph") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("run from inside the taskgraph repository (make bench)")
		}
	}
}

// workers is the pgbench thread count: one per core.
func workers() int { return runtime.NumCPU() }
