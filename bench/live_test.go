package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// marks is each target's "met"/"MISSED", in order.
func marks(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, map[bool]string{true: "met", false: "MISSED"}[t.met])
	}
	return out
}

func goodLiveRow() *liveRow {
	return &liveRow{Scenario: "subscribe-1", Feed: "logical", Rate: 1000, Expected: 100000, P99: 250, WriterP99: 50,
		RSSPeakMB: 300, RSSOpenMB: 280, Delivered: 100000, CPUmsDelivery: 0.05}
}

// Each subscribe target flips on its own bound, and only that one.
func TestJudgeLiveTargetsAtTheirBounds(t *testing.T) {
	all := []string{"met", "met", "met", "met", "met"}
	if got := marks(judgeLive(goodLiveRow())); !slices.Equal(got, all) {
		t.Fatalf("a row at every bound: %v, want all met", got)
	}
	for i, spoil := range []func(*liveRow){
		func(r *liveRow) { r.Ended = 1 },
		func(r *liveRow) { r.Rate = 949 },
		func(r *liveRow) { r.P99 = 250.5 },
		func(r *liveRow) { r.WriterP99 = 51 },
		func(r *liveRow) { r.RSSPeakMB = 301 },
	} {
		row := goodLiveRow()
		spoil(row)
		want := slices.Clone(all)
		want[i] = "MISSED"
		if got := marks(judgeLive(row)); !slices.Equal(got, want) {
			t.Errorf("spoiled target %d: %v, want %v", i, got, want)
		}
	}
	// No delivery at all (p99 unknown, -1) is no latency met.
	row := goodLiveRow()
	row.P99, row.WriterP99 = -1, -1
	if got := marks(judgeLive(row)); got[2] != "MISSED" || got[3] != "MISSED" {
		t.Fatalf("unknown p99s judged %v", got)
	}
	if s := formatLive([]*liveRow{goodLiveRow()}); !strings.Contains(s, "| subscribe-1 | logical |") || !strings.Contains(s, "per delivered event: 0.050 ms") ||
		!strings.Contains(s, "- met: delivery p99 ≤ 250 ms: 250 ms") || !strings.Contains(s, "- met: writer commit p99 ≤ 50 ms: 50 ms") {
		t.Fatalf("formatLive:\n%s", s)
	}
}

// create-live is held to the mean of the create runs around it.
func TestJudgeCreateLive(t *testing.T) {
	c := &createLiveRow{Feed: "logical", Before: &row{RPS: 100}, Live: &row{RPS: 81}, After: &row{RPS: 80}, Expected: 500, Delivered: 500}
	if got := marks(judgeCreateLive(c)); !slices.Equal(got, []string{"met", "met", "met", "met"}) {
		t.Fatalf("81 against (100+80)/2: %v", got)
	}
	c.Live.RPS = 80.9
	if got := marks(judgeCreateLive(c)); got[0] != "MISSED" {
		t.Fatalf("80.9 against 90: %v", got)
	}
	c.Live.RPS, c.Feed, c.Delivered, c.After.Errors = 90, "notify", 499, 1
	if got := marks(judgeCreateLive(c)); !slices.Equal(got, []string{"met", "MISSED", "MISSED", "MISSED"}) {
		t.Fatalf("on the fallback, one delivery short, one error: %v", got)
	}
	if s := formatCreateLive(c); !strings.Contains(s, "| create-live | 90 |") || !strings.Contains(s, "| 100% |") {
		t.Fatalf("formatCreateLive:\n%s", s)
	}
}

// The writers' target is the logical feed's mean over the rounds against off's.
func TestJudgeWritersOnMeansOfRounds(t *testing.T) {
	w := &writersRow{Clients: 32, Seconds: 5, Scripts: 120, Protocol: "simple", Runs: []writerRun{
		{"off", 1, 700, 200}, {"notify", 1, 300, 400}, {"logical", 1, 700, 210},
		{"off", 2, 700, 220}, {"notify", 2, 200, 500}, {"logical", 2, 560, 230},
	}}
	if got := marks(judgeWriters(w)); got[0] != "met" || got[1] != "met" { // 630 of 700; the fallback is reported only
		t.Fatalf("logical at 90%% of off judged %v", got)
	}
	w.Runs[5].TPS = 540 // 620 of 700
	if got := marks(judgeWriters(w)); got[0] != "MISSED" {
		t.Fatalf("logical at 88.6%% of off judged %v", got)
	}
	w.Runs[5].TPS = 560
	s := formatWriters(w)
	for _, want := range []string{
		"| 1 | 700 | 300 | 700 | 200.0 | 400.0 | 210.0 |",
		"| mean | 700 | 250 (**36%** of off) | 630 (**90%** of off) | 210.0 | 450.0 | 220.0 |",
		"- met: writers with live updates on (logical feed) ≥ 90% of off: 630 vs 700 tps (90%)",
		"| 3 | - | - | - | - | - | - |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("formatWriters lacks %q:\n%s", want, s)
		}
	}
}

func TestParseLatencyLog(t *testing.T) {
	if _, err := parseLatencyLog(strings.NewReader("0 1 1200 0 1701970000\n")); err == nil {
		t.Fatal("a line of 5 fields was read")
	}
	// Lag and retries may follow the six fields.
	got, err := parseLatencyLog(strings.NewReader("0 1 1200 0 1701970000 123456\n3 7 45000 1 1701970000 223456 12 0\n5 2 failed 0 1701970001 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{1200 * time.Microsecond, 45 * time.Millisecond}; !slices.Equal(got, want) {
		t.Fatalf("latencies %v, want %v (failed transactions are not latencies)", got, want)
	}
	if _, err := parseLatencyLog(strings.NewReader("0 1 12x 0 1 2\n")); err == nil {
		t.Fatal("a latency that is not a number was read")
	}
}

// The two sets of writer scripts must differ by pg_notify exactly.
func TestCheckWriterScripts(t *testing.T) {
	plain := []pgScript{{name: "create", steps: []step{{sql: "BEGIN; INSERT INTO tasks VALUES (1) RETURNING id"}, {sql: "COMMIT"}}}}
	notify := []pgScript{{name: "create", steps: []step{{sql: "BEGIN; INSERT INTO tasks VALUES (1) RETURNING id"}, {sql: "SELECT pg_notify('taskgraph_events', '{}'); COMMIT"}}}}
	if err := checkWriterScripts(plain, notify); err != nil {
		t.Fatal(err)
	}
	if err := checkWriterScripts(notify, notify); err == nil {
		t.Fatal("plain scripts with pg_notify passed")
	}
	if err := checkWriterScripts(plain, plain); err == nil {
		t.Fatal("fallback scripts without pg_notify passed")
	}
	if err := checkWriterScripts(plain, nil); err == nil {
		t.Fatal("sets of different sizes passed")
	}
}

func TestConfigNamesTheLiveRows(t *testing.T) {
	t.Setenv("BENCH_SCENARIOS", "create, create-live,writers")
	c, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scenarios, []string{"create"}) || !c.CreateLive || !c.Writers || c.Subscribe {
		t.Fatalf("scenarios %v, create-live %v, writers %v, subscribe %v", c.Scenarios, c.CreateLive, c.Writers, c.Subscribe)
	}
	t.Setenv("BENCH_SCENARIOS", "create-lives")
	if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), "create-live, writers") {
		t.Fatalf("an unknown name: %v", err)
	}
	t.Setenv("BENCH_SCENARIOS", "")
	if c, _ := configFromEnv(); !c.Subscribe || !c.CreateLive || !c.Writers {
		t.Fatalf("by default every live row runs: %+v", c)
	}
}
