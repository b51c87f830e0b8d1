package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// svgElements parses the chart as XML and counts its elements by name and class.
func svgElements(t *testing.T, doc string) (map[string]int, []string) {
	t.Helper()
	counts := map[string]int{}
	var texts []string
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return counts, texts
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			counts[e.Name.Local]++
			for _, a := range e.Attr {
				if a.Name.Local == "class" {
					counts[e.Name.Local+"."+a.Value]++
				}
			}
		case xml.CharData:
			texts = append(texts, string(e))
		}
	}
}

func TestChartHasABarPerScenarioFromTheData(t *testing.T) {
	const tsv = "run\ttime_utc\tbuild\tscenario\treq_s\tp50_ms\tp99_ms\tpgbench_a_req_s\tpgbench_b_req_s\tserver_over_a_pct\tfile\n" +
		"old\t2026-12-01 09:16\tcurrent\tpage1\t734\t19.98\t142.77\t9231\t2954\t8\truns/a.md\n" +
		"new\t2026-12-07 17:42\tbaseline\tpage1\t387\t40.21\t184.72\t-\t-\t10\truns/b.md\n" +
		"new\t2026-12-07 17:42\tcurrent\tpage1\t804\t18.89\t117.51\t-\t-\t21\truns/b.md\n" +
		"new\t2026-12-07 17:42\tcurrent\ttask\t2614\t4.83\t53.23\t2000\t-\t127\truns/b.md\n" +
		"new\t2026-12-07 17:42\tcurrent\tsearch\t255\t54.94\t353.59\t-\t-\t369\truns/b.md\n"
	path := filepath.Join(t.TempDir(), "runs.tsv")
	if err := os.WriteFile(path, []byte(tsv), 0o644); err != nil {
		t.Fatal(err)
	}
	history, err := readRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := latestRun(history)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 3 || latest[0].Run != "new" || latest[0].RPS != 804 {
		t.Fatalf("latest run: %+v", latest)
	}
	counts, texts := svgElements(t, chartSVG(latest, history))
	if counts["rect.rps"] != 3 || counts["rect.p99"] != 3 {
		t.Errorf("bars: %d req/s and %d p99, want 3 each (one per scenario)", counts["rect.rps"], counts["rect.p99"])
	}
	if counts["rect.pga"] != 1 { // only task's pgbench (a) was recorded
		t.Errorf("%d pgbench (a) bars, want 1", counts["rect.pga"])
	}
	if counts["polyline.trend"] != 3 {
		t.Errorf("%d trend lines, want 3", counts["polyline.trend"])
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"804 (21% of (a))", "2614 (127% of (a))", "2000", "117.51", "353.59", "2026-12-01 09:16"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart has no %q: %s", want, all)
		}
	}
	if strings.Contains(all, "387") || strings.Contains(all, "184.72") {
		t.Errorf("the baseline's figures are in the chart: %s", all)
	}
}

// The committed chart is the one the data file gives.
func TestCommittedChartMatchesTheData(t *testing.T) {
	history, err := readRuns(filepath.Join("runs", "runs.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := latestRun(history)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("latest.svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, []byte(chartSVG(latest, history))) {
		t.Error("bench/latest.svg is not what bench/runs/runs.tsv gives: run `go run ./bench chart` and commit it")
	}
}

func TestRunsRoundTrip(t *testing.T) {
	rows := []runFigures{figuresOf("r", "2026-12-07 19:22", "current", &row{Scenario: "page1", RPS: 1500, P50: 10.88, P99: 47.47, PgA: 5000, PgB: -1})}
	var b bytes.Buffer
	if err := writeRuns(&b, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "runs.tsv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RPS != 1500 || got[0].P99 != 47.47 || got[0].OverA != 30 || got[0].PgB != -1 {
		t.Errorf("read back %+v from\n%s", got, b.String())
	}
}
