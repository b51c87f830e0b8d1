package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// runsFile holds the per-scenario figures of every recorded run (bench/runs/*.md has each run's
// tables and context); the chart's trend is drawn from it.
const runsFile = "bench/runs/runs.tsv"

// runFigures is one scenario of one build in one run: a line of runs.tsv.
type runFigures struct {
	Run, Time, Build, Scenario string
	RPS, P50, P99, PgA, PgB    float64 // -1: not recorded
	OverA                      float64 // server / pgbench (a), %; -1: not recorded
	File                       string  // the run's file in bench/ (runs/...), or the run's folder
}

var runsHeader = []string{"run", "time_utc", "build", "scenario", "req_s", "p50_ms", "p99_ms",
	"pgbench_a_req_s", "pgbench_b_req_s", "server_over_a_pct", "file"}

// figuresOf is a measured row as a line of runs.tsv.
func figuresOf(run, when, build string, r *row) runFigures {
	f := runFigures{Run: run, Time: when, Build: build, Scenario: r.Scenario, RPS: r.RPS, P50: r.P50, P99: r.P99,
		PgA: -1, PgB: -1, OverA: -1}
	if r.PgA > 0 {
		f.PgA, f.OverA = r.PgA, 100*r.RPS/r.PgA
	}
	if r.PgB > 0 {
		f.PgB = r.PgB
	}
	return f
}

func readRuns(path string) ([]runFigures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.Comma, rd.LazyQuotes = '\t', true
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || !slices.Equal(recs[0], runsHeader) {
		return nil, fmt.Errorf("%s: the first line is not %v", path, runsHeader)
	}
	var out []runFigures
	for i, c := range recs[1:] {
		var v [6]float64
		for j := range v {
			if v[j], err = cell(c[4+j]); err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", path, i+2, runsHeader[4+j], err)
			}
		}
		out = append(out, runFigures{c[0], c[1], c[2], c[3], v[0], v[1], v[2], v[3], v[4], v[5], c[10]})
	}
	return out, nil
}

// cell is a number of runs.tsv; "-" (not recorded) is -1.
func cell(s string) (float64, error) {
	if s == "-" {
		return -1, nil
	}
	return strconv.ParseFloat(s, 64)
}

func writeRuns(w io.Writer, rows []runFigures) error {
	cw := csv.NewWriter(w)
	cw.Comma = '\t'
	_ = cw.Write(runsHeader)
	for _, f := range rows {
		_ = cw.Write([]string{f.Run, f.Time, f.Build, f.Scenario, dash(f.RPS, 0), dash(f.P50, 2), dash(f.P99, 2),
			dash(f.PgA, 0), dash(f.PgB, 0), dash(f.OverA, 0), f.File})
	}
	cw.Flush()
	return cw.Error()
}

func dash(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// latestRun is the current build's rows of the last run in rows (rows are in time order).
func latestRun(rows []runFigures) ([]runFigures, error) {
	var last []runFigures
	for _, f := range rows {
		if f.Build != "current" {
			continue
		}
		if len(last) > 0 && (f.Time != last[0].Time || f.Run != last[0].Run) {
			last = nil
		}
		last = append(last, f)
	}
	if len(last) == 0 {
		return nil, errors.New("no run of the current build")
	}
	return last, nil
}
