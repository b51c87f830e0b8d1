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

// defaultPGURL is the shared cluster (BENCH_PG_URL).
const defaultPGURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func configFromEnv() (config, error) {
	c := config{
		Duration: 10 * time.Second, Warmup: time.Second, Conns: 20, Samples: 20, PGURL: defaultPGURL,
		Users: 2000, Tasks: 200, HeavyTasks: 50000, TokenUsers: 200,
		Scenarios: scenarioNames(), Subscribe: true, CreateLive: true, Writers: true,
	}
	var e envReader
	e.duration("BENCH_DURATION", &c.Duration, 0, "a duration (e.g. 10s)")
	e.duration("BENCH_WARMUP", &c.Warmup, 0, "a duration (e.g. 10s)")
	c.PgbenchDur = max(time.Second, (c.Duration / 2).Round(time.Second))
	e.duration("BENCH_PGBENCH_DURATION", &c.PgbenchDur, 0, "a duration (e.g. 10s)")
	for _, n := range []struct {
		key   string
		dst   *int
		least int
	}{
		{"BENCH_CONNS", &c.Conns, 1}, {"BENCH_SAMPLES", &c.Samples, 1}, {"BENCH_USERS", &c.Users, 1},
		{"BENCH_TASKS", &c.Tasks, 100}, {"BENCH_HEAVY_TASKS", &c.HeavyTasks, pageDepth*20 + 20},
	} {
		e.integer(n.key, n.dst, n.least, fmt.Sprintf("an integer ≥ %d", n.least))
	}
	c.TokenUsers = min(c.TokenUsers, c.Users)
	c.Baseline = os.Getenv("BENCH_BASELINE")
	c.Profile, c.Keep = on("BENCH_PROFILE"), on("BENCH_KEEP")
	e.str("BENCH_PG_URL", &c.PGURL)
	c.ServerEnv = strings.Fields(os.Getenv("BENCH_SERVER_ENV"))
	for _, kv := range c.ServerEnv {
		if !strings.Contains(kv, "=") {
			e.errs = append(e.errs, fmt.Errorf("BENCH_SERVER_ENV: %q is not VAR=value", kv))
		}
	}
	if v := os.Getenv("BENCH_SCENARIOS"); v != "" {
		e.errs = append(e.errs, c.chooseScenarios(v)...)
	}
	// page500 and search send every connection's requests as the one heavy user: OPERATIONS_PER_USER
	// (issue 20; 4 by default here) would answer most with 429, measuring refusals, not pages.
	// BENCH_SERVER_ENV comes after, so it may set its own.
	c.ServerEnv = append([]string{"OPERATIONS_PER_USER=" + strconv.Itoa(c.Conns)}, c.ServerEnv...)
	c.LivePGURL = os.Getenv("BENCH_LIVE_PG_URL")
	c.Out = outDir("BENCH_OUT", "")
	return c, errors.Join(e.errs...)
}

// chooseScenarios sets the scenarios and live rows BENCH_SCENARIOS (v) names.
func (c *config) chooseScenarios(v string) []error {
	var errs []error
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
	return errs
}

func run(ctx context.Context) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	root, err := startRun(cfg.Out)
	if err != nil {
		return err
	}
	started := time.Now()
	r := &runner{cfg: cfg, root: root, log: newLog(cfg.Out)}
	defer r.cleanup()
	r.log.printf("bench: output in %s", cfg.Out)
	if err := r.prepare(ctx); err != nil {
		return err
	}
	cur := r.builds[len(r.builds)-1]
	if err := r.measureAll(ctx); err != nil {
		return err
	}
	lb, err := r.measureLive(ctx, cur)
	if err != nil {
		return err
	}
	if err := r.writeResults(time.Since(started)); err != nil {
		return err
	}
	if cfg.Profile {
		if err := r.profileAll(ctx, cur, lb); err != nil {
			return err
		}
	}
	r.log.printf("bench: done in %s; results in %s", time.Since(started).Round(time.Second), cfg.Out)
	return nil
}

// prepare describes the machine, opens the admin session, makes the signing key and prepares the
// builds: the baseline first, so that each scenario measures it and then the current tree.
func (r *runner) prepare(ctx context.Context) (err error) {
	if r.machine, err = describeMachine(ctx, r.cfg.PGURL); err != nil {
		return err
	}
	if r.admin, err = openAdmin(ctx, r.cfg.PGURL); err != nil {
		return err
	}
	if r.key, err = newSigningKey(); err != nil {
		return err
	}
	if r.cfg.Baseline != "" {
		b, err := r.prepareBuild(ctx, "baseline", r.cfg.Baseline)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", r.cfg.Baseline, err)
		}
		r.builds = append(r.builds, b)
	}
	cur, err := r.prepareBuild(ctx, "current", "")
	if err != nil {
		return err
	}
	r.builds = append(r.builds, cur)
	return nil
}

// measureLive measures the live rows: the current build only (a baseline may predate the
// logical feed), on the live cluster (bench/live.go). It returns their build (nil without them).
func (r *runner) measureLive(ctx context.Context, cur *build) (lb *build, err error) {
	cfg := r.cfg
	if !cfg.Subscribe && !cfg.CreateLive && !cfg.Writers {
		return nil, nil
	}
	if lb, err = r.prepareLive(ctx, cur); err != nil {
		return nil, err
	}
	if cfg.CreateLive {
		if r.createLive, err = r.measureCreateLive(ctx, lb); err != nil {
			return nil, fmt.Errorf("%s: %w", createLiveScenario, err)
		}
	}
	if cfg.Subscribe {
		for _, layout := range liveLayouts {
			row, err := r.measureSubscribe(ctx, lb, lb.srv, layout, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", layout.name, err)
			}
			r.live = append(r.live, row)
		}
	}
	if cfg.Writers { // last: it stops the live build's server
		if r.writers, err = r.measureWriters(ctx, lb); err != nil {
			return nil, fmt.Errorf("%s: %w", writersScenario, err)
		}
	}
	return lb, nil
}

// writeResults prints the report and writes results.md, results.json and the chart.
func (r *runner) writeResults(elapsed time.Duration) error {
	report := r.report(elapsed)
	fmt.Println()
	fmt.Print(report)
	if err := os.WriteFile(filepath.Join(r.cfg.Out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	if err := r.writeJSON(filepath.Join(r.cfg.Out, "results.json")); err != nil {
		return err
	}
	if err := r.writeChart(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// profileAll is BENCH_PROFILE: page1, create-live and subscribe, those that ran.
func (r *runner) profileAll(ctx context.Context, cur, lb *build) error {
	if len(r.cfg.Scenarios) > 0 {
		if err := r.profile(ctx, cur); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	if r.cfg.CreateLive {
		if err := r.profileCreateLive(ctx, lb); err != nil {
			return fmt.Errorf("profile %s: %w", createLiveScenario, err)
		}
	}
	if r.cfg.Subscribe {
		if err := r.profileSubscribe(ctx, lb); err != nil {
			return fmt.Errorf("profile %s: %w", liveScenario, err)
		}
	}
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
