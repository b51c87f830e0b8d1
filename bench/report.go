package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// row is one scenario's figures for one build.
type row struct {
	Scenario       string   `json:"scenario"`
	Requests       int      `json:"requests"`
	RPS            float64  `json:"rps"`
	P50            float64  `json:"p50_ms"`
	P90            float64  `json:"p90_ms"`
	P99            float64  `json:"p99_ms"`
	Max            float64  `json:"max_ms"`
	Errors         int      `json:"errors"`
	FirstErrors    []string `json:"first_errors,omitempty"`
	RoundTrips     float64  `json:"round_trips_per_request"`
	Statements     float64  `json:"statements_per_request"`
	CPUms          float64  `json:"server_cpu_ms_per_request"`
	AllocKB        float64  `json:"server_alloc_kb_per_request"` // -1: unknown
	GCs            float64  `json:"server_gc_cycles"`            // -1: unknown
	RSSMB          float64  `json:"server_peak_rss_mb"`
	SessionsPerSec float64  `json:"new_pg_sessions_per_sec"`
	LoadgenCPUms   float64  `json:"loadgen_cpu_ms_per_request"`
	PoolerCPUms    float64  `json:"pgbouncer_cpu_ms_per_request,omitempty"` // page1-pgbouncer only
	PGCPUms        float64  `json:"postgres_cpu_ms_per_request"`            // the database's backends (a local cluster)
	HostBusyPct    float64  `json:"host_cpu_busy_pct"`
	PgA            float64  `json:"pgbench_a_tps"`
	PgB            float64  `json:"pgbench_b_tps"`
	PgBMode        string   `json:"pgbench_b_protocol"`
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

func num(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// formatTable is the run's main table: one row per scenario.
func formatTable(rows []*row) string {
	return mdTable("| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | SQL round trips/req | server CPU ms/req | server alloc KB/req | server peak RSS MB | new PG sessions/s | pgbench (a) req/s | pgbench (b) req/s | server / (a) | server / (b) |\n"+
		"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", len(rows), func(i int) string {
		r := rows[i]
		return fmt.Sprintf("| %s | %.0f | %.2f | %.2f | %.2f | %.1f | %d | %s | %.2f | %s | %.0f | %.1f | %.0f | %.0f | %s | %s |\n",
			r.Scenario, r.RPS, r.P50, r.P90, r.P99, r.Max, r.Errors, num(r.RoundTrips, 1), r.CPUms, num(r.AllocKB, 0),
			r.RSSMB, r.SessionsPerSec, r.PgA, r.PgB, ratio(r.RPS, r.PgA), ratio(r.RPS, r.PgB))
	})
}

// formatDetails are the figures that explain the main table.
func formatDetails(rows []*row) string {
	var errs strings.Builder
	for _, r := range rows {
		for _, e := range r.FirstErrors {
			fmt.Fprintf(&errs, "\n%s error: %s", r.Scenario, e)
		}
	}
	return mdTable("| scenario | requests | SQL statements/req | server GC cycles | load generator CPU ms/req | host CPU busy | pgbench (b) protocol |\n"+
		"|---|--:|--:|--:|--:|--:|---|\n", len(rows), func(i int) string {
		r := rows[i]
		return fmt.Sprintf("| %s | %d | %s | %s | %.2f | %.0f%% | %s |\n",
			r.Scenario, r.Requests, num(r.Statements, 1), num(r.GCs, 0), r.LoadgenCPUms, r.HostBusyPct, r.PgBMode)
	}) + errs.String()
}

// mdTable is a Markdown table: head (its header and alignment lines), then line(i) for each of n
// rows.
func mdTable(head string, n int, line func(i int) string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		b.WriteString(line(i))
	}
	return b.String()
}

// formatCompare puts two builds side by side: baseline → current (current / baseline).
func formatCompare(base, cur []*row) string {
	var b strings.Builder
	b.WriteString("| scenario | req/s | p50 ms | p99 ms | server CPU ms/req | server alloc KB/req | SQL round trips/req | server / (a) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	by := map[string]*row{}
	for _, r := range base {
		by[r.Scenario] = r
	}
	arrow := func(a, c float64, prec int) string {
		if a < 0 || c < 0 {
			return "-"
		}
		s := fmt.Sprintf("%.*f → %.*f", prec, a, prec, c)
		if a > 0 {
			s += fmt.Sprintf(" (×%.2f)", c/a)
		}
		return s
	}
	for _, c := range cur {
		a := by[c.Scenario]
		if a == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s → %s |\n", c.Scenario,
			arrow(a.RPS, c.RPS, 0), arrow(a.P50, c.P50, 2), arrow(a.P99, c.P99, 2), arrow(a.CPUms, c.CPUms, 2),
			arrow(a.AllocKB, c.AllocKB, 0), arrow(a.RoundTrips, c.RoundTrips, 1), ratio(a.RPS, a.PgA), ratio(c.RPS, c.PgA))
	}
	return b.String()
}

// target is one of the targets (issues #8 and #18), judged on a build's figures.
type target struct {
	met  bool
	text string
}

// targetInputs are the figures the targets are judged on.
type targetInputs struct {
	rows          map[string]*row
	page100RT     float64 // round trips of first: 100 (calibration), 0 if unknown
	jwksFetches   int64
	jwksElapsed   time.Duration
	jwksInterval  time.Duration
	readScenarios []string
}

func judgeTargets(in targetInputs) []target {
	var ts []target
	add := func(met bool, format string, args ...any) {
		ts = append(ts, target{met, fmt.Sprintf(format, args...)})
	}
	errs, maxRSS := 0, 0.0
	for _, r := range in.rows {
		errs += r.Errors
		maxRSS = max(maxRSS, r.RSSMB)
	}
	add(errs == 0, "zero errors over every scenario: %d", errs)
	if p := in.rows["page1"]; p != nil {
		page1Targets(in, p, add)
	}
	readScenarioTargets(in, add)
	if s := in.rows["search"]; s != nil {
		add(s.P50 <= 10, "search p50 ≤ 10 ms: %.2f ms", s.P50)
	}
	add(maxRSS <= 100, "server peak RSS ≤ 100 MB: %.0f MB", maxRSS)
	if in.jwksInterval > 0 {
		allowed := int64(in.jwksElapsed/in.jwksInterval) + 1
		add(in.jwksFetches <= allowed, "JWKS fetched at most once per refresh interval: %d fetches in %s of load (refresh %s: at most %d)",
			in.jwksFetches, in.jwksElapsed.Round(time.Second), in.jwksInterval, allowed)
	}
	return ts
}

// page1Targets are the targets on page1 (p): against pgbench, its CPU and allocations, and
// page100, page500 and page1-pgbouncer against it.
func page1Targets(in targetInputs, p *row, add func(bool, string, ...any)) {
	add(p.PgA > 0 && p.RPS >= 0.45*p.PgA, "page1 ≥ 45%% of pgbench (a): %s", ratio(p.RPS, p.PgA))
	add(p.PgA > 0 && p.PgB >= 0.70*p.PgA, "page1's pgbench (b) ≥ 70%% of (a): %s", ratio(p.PgB, p.PgA))
	add(p.CPUms > 0 && p.CPUms <= 0.25, "page1 server CPU ≤ 0.25 ms/req: %.2f", p.CPUms)
	add(p.AllocKB >= 0 && p.AllocKB <= 32, "page1 server alloc ≤ 32 KB/req: %.0f", p.AllocKB)
	if in.page100RT > 0 {
		add(in.page100RT == p.RoundTrips, "round trips independent of page size: first 20 → %.1f, first 100 → %.1f", p.RoundTrips, in.page100RT)
	}
	if q := in.rows["page500"]; q != nil {
		add(q.P50 <= 1.5*p.P50, "page500 p50 ≤ 1.5 × page1 p50: %.2f vs %.2f ms (×%.2f)", q.P50, p.P50, q.P50/max(p.P50, 1e-9))
	}
	if q := in.rows[pooledScenario]; q != nil {
		add(p.RPS > 0 && q.RPS >= 0.90*p.RPS, "page1-pgbouncer ≥ 90%% of page1: %s", ratio(q.RPS, p.RPS))
	}
}

// readScenarioTargets are p99 ≤ 4 × p50 and ≤ 2 round trips in every read scenario.
func readScenarioTargets(in targetInputs, add func(bool, string, ...any)) {
	var bad, trips []string
	for _, name := range in.readScenarios {
		r := in.rows[name]
		if r == nil {
			continue
		}
		if r.P99 > 4*r.P50 {
			bad = append(bad, fmt.Sprintf("%s ×%.1f", name, r.P99/max(r.P50, 1e-9)))
		}
		if r.RoundTrips > 2 {
			trips = append(trips, fmt.Sprintf("%s %.1f", name, r.RoundTrips))
		}
	}
	add(len(bad) == 0, "p99 ≤ 4 × p50 in every read scenario%s", map[bool]string{true: ": missed by " + strings.Join(bad, ", ")}[len(bad) > 0])
	add(len(trips) == 0, "≤ 2 SQL round trips in every read scenario%s", map[bool]string{true: ": missed by " + strings.Join(trips, ", ")}[len(trips) > 0])
}

func formatTargets(ts []target) string {
	return formatTargetList(ts) + "- (EdDSA verification ≤ 100 µs/op is measured by `make bench-go`)\n"
}

// formatTargetList is one "- met: …" or "- MISSED: …" line per target.
func formatTargetList(ts []target) string {
	var b strings.Builder
	for _, t := range ts {
		mark := "MISSED"
		if t.met {
			mark = "met"
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, t.text)
	}
	return b.String()
}

func (b *build) orderedRows(names []string) []*row {
	var rows []*row
	for _, n := range names {
		if r := b.rows[n]; r != nil {
			rows = append(rows, r)
		}
	}
	return rows
}

// jwksInterval is the AUTH_JWKS_REFRESH the servers ran with.
func (r *runner) jwksInterval() time.Duration {
	d := 30 * time.Second
	if v, ok := r.serverEnv("AUTH_JWKS_REFRESH"); ok {
		if p, err := time.ParseDuration(v); err == nil {
			d = p
		}
	}
	return d
}

// serverEnv is the value BENCH_SERVER_ENV gives key (the last one, as the server sees it).
func (r *runner) serverEnv(key string) (v string, ok bool) {
	for _, kv := range r.cfg.ServerEnv {
		if val, found := strings.CutPrefix(kv, key+"="); found {
			v, ok = val, true
		}
	}
	return v, ok
}

var readScenarios = []string{"page1", "page500", "filter", "search", "task", pooledScenario}

func (r *runner) report(elapsed time.Duration) string {
	var b strings.Builder
	cur := r.builds[len(r.builds)-1]
	m := r.machine
	fmt.Fprintf(&b, "## %s: %s\n\n", m.Date, cur.rev)
	fmt.Fprintf(&b, "- machine: %d × %s, %d GiB, Linux %s; load average at start %s (shared: other engineers' builds and tests may run at the same time, so compare ratios within a run)\n",
		m.CPUs, m.CPUModel, m.MemGiB, m.Kernel, m.LoadAvg)
	fmt.Fprintf(&b, "- software: %s, PostgreSQL %s, %s\n", m.Go, m.PostgreSQL, m.Pgbench)
	fmt.Fprintf(&b, "- run: %s per scenario and build after %s warm-up, %d connections; pgbench %s × %d clients × %d threads; %d users × %d tasks + 1 × %d; %d tokens round-robin; total %s\n",
		r.cfg.Duration, r.cfg.Warmup, r.cfg.Conns, r.cfg.PgbenchDur, r.cfg.Conns, workers(), r.cfg.Users, r.cfg.Tasks, r.cfg.HeavyTasks,
		r.cfg.TokenUsers, elapsed.Round(time.Second))
	if len(r.cfg.ServerEnv) > 0 {
		fmt.Fprintf(&b, "- server environment: %s\n", strings.Join(r.cfg.ServerEnv, " "))
	}
	for _, bl := range r.builds {
		if len(r.cfg.Scenarios) == 0 {
			break // only live rows
		}
		r.formatBuild(&b, bl)
	}
	if r.createLive != nil {
		fmt.Fprintf(&b, "\n### create-live (%s, on the live cluster: create before, with and after %d taskEvents subscriptions open)\n\n",
			cur.name, liveUsers*liveSubsPerUser)
		b.WriteString(formatCreateLive(r.createLive))
	}
	if len(r.live) > 0 {
		fmt.Fprintf(&b, "\n### subscribe (%s, on the live cluster: %d users × %d taskEvents subscriptions, %d changes/s for %s after %s of warm-up)\n\n",
			cur.name, liveUsers, liveSubsPerUser, liveRate, r.cfg.Duration, r.cfg.Warmup)
		b.WriteString(formatLive(r.live))
	}
	if r.writers != nil {
		fmt.Fprintf(&b, "\n### writers (pgbench on the live cluster: live updates off / NOTIFY fallback / logical feed)\n\n")
		b.WriteString(formatWriters(r.writers))
	}
	if len(r.builds) == 2 {
		fmt.Fprintf(&b, "\n### baseline → current (×: current / baseline)\n\n")
		b.WriteString(formatCompare(r.builds[0].orderedRows(r.cfg.Scenarios), cur.orderedRows(r.cfg.Scenarios)))
	}
	return b.String()
}

// formatBuild is a build's table, details, round trips and targets.
func (r *runner) formatBuild(b *strings.Builder, bl *build) {
	fmt.Fprintf(b, "\n### %s: %s\n\n", bl.name, bl.rev)
	rows := bl.orderedRows(r.cfg.Scenarios)
	b.WriteString(formatTable(rows))
	b.WriteString("\n")
	b.WriteString(formatDetails(rows))
	if direct, pooled := bl.rows["page1"], bl.rows[pooledScenario]; direct != nil && pooled != nil {
		b.WriteString("\n\n" + formatPooled(direct, pooled, r.poolSize()))
	}
	fmt.Fprintf(b, "\n\nRound trips per request (proxy, %d requests each):", r.cfg.Samples)
	for _, name := range append(append([]string(nil), r.cfg.Scenarios...), "page100") {
		fmt.Fprintf(b, " %s %.1f;", name, meanRoundTrips(bl.captures[name]))
	}
	fmt.Fprintf(b, " statements: %s/statements-*.txt. Build %s, migrate + seed %s.\n\nTargets:\n\n",
		bl.out, bl.buildTime.Round(time.Second), bl.seedTime.Round(time.Second))
	b.WriteString(formatTargets(judgeTargets(targetInputs{
		rows: bl.rows, page100RT: meanRoundTrips(bl.captures["page100"]),
		jwksFetches: bl.jwks.fetches, jwksElapsed: bl.jwks.elapsed, jwksInterval: r.jwksInterval(),
		readScenarios: readScenarios,
	})))
}

func (r *runner) writeJSON(path string) error {
	type buildJSON struct {
		Name       string  `json:"name"`
		Rev        string  `json:"rev"`
		Rows       []*row  `json:"rows"`
		JWKS       int64   `json:"jwks_fetches_during_load"`
		JWKSPeriod float64 `json:"load_seconds"`
	}
	doc := struct {
		Machine machineInfo `json:"machine"`
		Config  struct {
			Duration, Warmup, Pgbench  string
			Conns, Users, Tasks, Heavy int
			ServerEnv                  []string
		} `json:"config"`
		Builds     []buildJSON    `json:"builds"`
		Subscribe  []*liveRow     `json:"subscribe,omitempty"`
		CreateLive *createLiveRow `json:"create_live,omitempty"`
		Writers    *writersRow    `json:"writers,omitempty"`
	}{Machine: r.machine, Subscribe: r.live, CreateLive: r.createLive, Writers: r.writers}
	doc.Config.Duration, doc.Config.Warmup, doc.Config.Pgbench = r.cfg.Duration.String(), r.cfg.Warmup.String(), r.cfg.PgbenchDur.String()
	doc.Config.Conns, doc.Config.Users, doc.Config.Tasks, doc.Config.Heavy = r.cfg.Conns, r.cfg.Users, r.cfg.Tasks, r.cfg.HeavyTasks
	doc.Config.ServerEnv = r.cfg.ServerEnv
	for _, b := range r.builds {
		doc.Builds = append(doc.Builds, buildJSON{b.name, b.rev, b.orderedRows(r.cfg.Scenarios), b.jwks.fetches, b.jwks.elapsed.Seconds()})
	}
	j, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, j, 0o644)
}
