package main

import (
	"strings"
	"testing"
	"time"
)

func sampleRows() map[string]*row {
	return map[string]*row{
		"page1": {Scenario: "page1", Requests: 8000, RPS: 800, P50: 20, P90: 30, P99: 60, Max: 120.5, RoundTrips: 8,
			Statements: 5, CPUms: 1.04, AllocKB: 363, GCs: 333, RSSMB: 27.4, SessionsPerSec: 34, PgA: 10000, PgB: 4000, PgBMode: "extended"},
		"page500":      {Scenario: "page500", RPS: 700, P50: 31, P99: 62, RoundTrips: 8, AllocKB: -1, GCs: -1, RSSMB: 120},
		"search":       {Scenario: "search", RPS: 100, P50: 170, P99: 240, Errors: 2, FirstErrors: []string{"HTTP 500: boom"}, RoundTrips: 8},
		pooledScenario: {Scenario: pooledScenario, RPS: 760, P50: 22, P99: 70, RoundTrips: 2},
	}
}

func TestFormatTableRow(t *testing.T) {
	rows := sampleRows()
	got := formatTable([]*row{rows["page1"], rows["page500"]})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header, rule and two rows:\n%s", got)
	}
	want := "| page1 | 800 | 20.00 | 30.00 | 60.00 | 120.5 | 0 | 8.0 | 1.04 | 363 | 27 | 34.0 | 10000 | 4000 | 8% | 20% |"
	if lines[2] != want {
		t.Fatalf("row\n%s\nwant\n%s", lines[2], want)
	}
	if cols := strings.Count(lines[0], "|"); cols != strings.Count(lines[2], "|") || cols != strings.Count(lines[1], "|") {
		t.Fatalf("header, rule and row have different column counts:\n%s", got)
	}
	// Unknown figures print as "-", ratios without a pgbench figure too.
	if !strings.HasPrefix(lines[3], "| page500 | 700 |") || !strings.HasSuffix(lines[3], "| - | 120 | 0.0 | 0 | 0 | - | - |") {
		t.Fatalf("row with unknowns: %s", lines[3])
	}
	if d := formatDetails([]*row{rows["search"]}); !strings.Contains(d, "search error: HTTP 500: boom") {
		t.Fatalf("details do not show the error:\n%s", d)
	}
}

func TestFormatCompare(t *testing.T) {
	base := &row{Scenario: "page1", RPS: 800, P50: 20, P99: 60, CPUms: 1, AllocKB: 400, RoundTrips: 8, PgA: 10000}
	cur := &row{Scenario: "page1", RPS: 2400, P50: 8, P99: 16, CPUms: 0.4, AllocKB: 100, RoundTrips: 3, PgA: 10000}
	got := formatCompare([]*row{base}, []*row{cur})
	want := "| page1 | 800 → 2400 (×3.00) | 20.00 → 8.00 (×0.40) | 60.00 → 16.00 (×0.27) | 1.00 → 0.40 (×0.40) | 400 → 100 (×0.25) | 8.0 → 3.0 (×0.38) | 8% → 24% |"
	if !strings.Contains(got, want) {
		t.Fatalf("compare:\n%s\nwant a row\n%s", got, want)
	}
}

func TestJudgeTargets(t *testing.T) {
	ts := judgeTargets(targetInputs{
		rows: sampleRows(), page100RT: 8,
		jwksFetches: 9, jwksElapsed: 3 * time.Minute, jwksInterval: 30 * time.Second,
		readScenarios: readScenarios,
	})
	judged := map[string]bool{}
	for _, tg := range ts {
		judged[strings.SplitN(tg.text, ":", 2)[0]] = tg.met
	}
	for name, want := range map[string]bool{
		"zero errors over every scenario":                false, // search had 2
		"page1 ≥ 45% of pgbench (a)":                     false, // 8%
		"page1's pgbench (b) ≥ 70% of (a)":               false, // 40%
		"page1 server CPU ≤ 0.25 ms/req":                 false, // 1.04
		"page1 server alloc ≤ 32 KB/req":                 false, // 363
		"≤ 2 SQL round trips in every read scenario":     false, // 8
		"round trips independent of page size":           true,
		"page500 p50 ≤ 1.5 × page1 p50":                  false, // 31 vs 20
		"page1-pgbouncer ≥ 90% of page1":                 true,  // 760 / 800
		"p99 ≤ 4 × p50 in every read scenario":           true,
		"search p50 ≤ 10 ms":                             false,
		"server peak RSS ≤ 100 MB":                       false, // page500 120
		"JWKS fetched at most once per refresh interval": false, // 9 > 7
	} {
		got, ok := judged[name]
		if !ok {
			t.Errorf("target %q not judged (have %v)", name, judged)
		} else if got != want {
			t.Errorf("target %q: met = %v, want %v", name, got, want)
		}
	}
	if out := formatTargets(ts); !strings.Contains(out, "- MISSED: ≤ 2 SQL round trips in every read scenario: missed by page1 8.0, page500 8.0, search 8.0") {
		t.Errorf("formatted targets:\n%s", out)
	}
}

func TestFormatPooled(t *testing.T) {
	direct := &row{Scenario: "page1", RPS: 1000, P50: 10, P99: 40, CPUms: 0.6, RoundTrips: 3}
	pooled := &row{Scenario: pooledScenario, RPS: 900, P50: 11, P99: 50, CPUms: 0.62, PoolerCPUms: 0.0812, RoundTrips: 3}
	got := formatPooled(direct, pooled, 8)
	for _, want := range []string{
		"page1-pgbouncer / page1 (PgBouncer in transaction pooling, default_pool_size 8 = the server's DATABASE_MAX_CONNS)",
		"req/s 900 / 1000 = ×0.90", "p50 11.00 / 10.00 ms = ×1.10", "p99 50.00 / 40.00 ms = ×1.25",
		"PgBouncer CPU 0.081 ms/req", "round trips PgBouncer → PostgreSQL 3.0/req (server → PostgreSQL 3.0)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("pooled comparison\n%s\nlacks %q", got, want)
		}
	}
	if got := formatPooled(&row{}, pooled, 8); !strings.Contains(got, "req/s 900 / 0 = -") {
		t.Errorf("no direct figures: %s", got)
	}
}
