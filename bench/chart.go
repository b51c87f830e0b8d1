package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// The chart (bench/latest.svg): the last run's req/s per scenario against pgbench (a), its p99
// per scenario, and the trend of each of its scenarios' req/s over the recorded runs. Written
// by hand: a few rectangles, lines and labels.
const (
	chartWidth  = 860
	chartLeft   = 130 // room for the scenario names
	chartBarW   = 560 // the longest bar
	chartBarH   = 14
	chartTrendH = 220
)

var chartColors = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"}

// chartCommand is `go run ./bench chart`: latest.svg again from the last run in runs.tsv.
func chartCommand() error {
	rows, err := readRuns(runsFile)
	if err != nil {
		return err
	}
	latest, err := latestRun(rows)
	if err != nil {
		return err
	}
	return os.WriteFile("bench/latest.svg", []byte(chartSVG(latest, rows)), 0o644)
}

// svg collects the chart's elements; y is where the next section starts.
type svg struct {
	b strings.Builder
	y float64
}

func (s *svg) text(x, y float64, anchor, class, format string, args ...any) {
	fmt.Fprintf(&s.b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">%s</text>\n",
		x, y, anchor, class, html.EscapeString(fmt.Sprintf(format, args...)))
}

func (s *svg) rect(x, y, w, h float64, class string) {
	fmt.Fprintf(&s.b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\"/>\n", x, y, max(w, 0.5), h, class)
}

// chartSVG draws latest (one run's rows) and the trend of its scenarios over history.
func chartSVG(latest, history []runFigures) string {
	s := &svg{y: 28}
	s.text(10, 18, "start", "title", "%s (%s UTC): req/s and p99 per scenario, against pgbench (a)", latest[0].Run, latest[0].Time)
	s.rpsBars(latest)
	s.p99Bars(latest)
	s.trend(latest, history)
	return fmt.Sprintf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n"+
		"<style>.rps{fill:#4e79a7}.pga{fill:#bab0ac}.p99{fill:#f28e2b}text.rps,text.p99{fill:black}text.pga{fill:#555}.title{font-size:13px;font-weight:bold}.note{fill:#555}.axis{stroke:#999}</style>\n"+
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n%s</svg>\n", chartWidth, s.y, chartWidth, s.y, s.b.String())
}

// rpsBars is a bar per scenario for the server's req/s and, where the run measured it, one for
// pgbench (a) on the same scale, with the server's share of (a).
func (s *svg) rpsBars(rows []runFigures) {
	s.heading("req/s: server (blue), pgbench (a) on the same rows (grey)")
	top := 0.0
	for _, f := range rows {
		top = max(top, f.RPS, f.PgA)
	}
	for _, f := range rows {
		label := fmt.Sprintf("%.0f", f.RPS)
		if f.OverA >= 0 {
			label += fmt.Sprintf(" (%.0f%% of (a))", f.OverA)
		}
		s.bar(f.Scenario, f.RPS/top, "rps", label)
		if f.PgA >= 0 {
			s.bar("", f.PgA/top, "pga", fmt.Sprintf("%.0f", f.PgA))
		}
		s.y += 4
	}
}

// p99Bars is a bar per scenario for the p99 latency.
func (s *svg) p99Bars(rows []runFigures) {
	s.heading("p99 ms")
	top := 0.0
	for _, f := range rows {
		top = max(top, f.P99)
	}
	for _, f := range rows {
		s.bar(f.Scenario, max(f.P99, 0)/top, "p99", dash(f.P99, 2))
		s.y += 4
	}
}

func (s *svg) heading(title string) {
	s.y += 14
	s.text(10, s.y, "start", "note", "%s", title)
	s.y += 8
}

// bar is one bar, share of the longest, with its name on the left and its label on the right.
func (s *svg) bar(name string, share float64, class, label string) {
	if name != "" {
		s.text(chartLeft-6, s.y+11, "end", "", "%s", name)
	}
	if math.IsNaN(share) || math.IsInf(share, 0) {
		share = 0
	}
	w := chartBarW * share
	s.rect(chartLeft, s.y, w, chartBarH, class)
	s.text(chartLeft+w+4, s.y+11, "start", class, "%s", label)
	s.y += chartBarH + 2
}

// trend is a line per scenario of latest: its req/s in every recorded run (current build) that
// measured it, runs in time order along the x axis.
func (s *svg) trend(latest, history []runFigures) {
	type key struct{ time, run string }
	var runs []key
	rps := map[key]map[string]float64{}
	for _, f := range history {
		k := key{f.Time, f.Run}
		if f.Build != "current" || f.RPS < 0 {
			continue
		}
		if rps[k] == nil {
			rps[k] = map[string]float64{}
			runs = append(runs, k)
		}
		rps[k][f.Scenario] = f.RPS
	}
	top := 1.0
	for _, m := range rps {
		for _, v := range m {
			top = max(top, v)
		}
	}
	s.y += 20
	s.text(10, s.y, "start", "note", "req/s over the recorded runs (current build; hosts and loads differ: compare within a run)")
	y0 := s.y + 10 + chartTrendH // the x axis
	fmt.Fprintf(&s.b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"axis\"/>\n", chartLeft, y0, chartLeft+chartBarW, y0)
	s.text(chartLeft-6, y0-chartTrendH+4, "end", "note", "%.0f", top)
	s.text(chartLeft-6, y0, "end", "note", "0")
	step := float64(chartBarW) / float64(max(len(runs)-1, 1))
	for i, k := range runs {
		if i == 0 || i == len(runs)-1 || k.time[:10] != runs[i-1].time[:10] {
			s.text(chartLeft+float64(i)*step, y0+14, "middle", "note", "%s", k.time)
		}
	}
	for c, f := range latest {
		color := chartColors[c%len(chartColors)]
		var pts []string
		for i, k := range runs {
			if v, ok := rps[k][f.Scenario]; ok {
				x, y := chartLeft+float64(i)*step, y0-chartTrendH*v/top
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&s.b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", x, y, color)
			}
		}
		fmt.Fprintf(&s.b, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" class=\"trend\"/>\n", strings.Join(pts, " "), color)
		fmt.Fprintf(&s.b, "<text x=\"%d\" y=\"%.1f\" fill=\"%s\">%s</text>\n", chartLeft+chartBarW+10, y0-chartTrendH+12+float64(c)*14, color, html.EscapeString(f.Scenario))
	}
	s.y = y0 + 26
}

// writeChart writes the run's rows as runs.tsv in its folder (to append to bench/runs/runs.tsv
// when the run is recorded) and bench/latest.svg: the current build's rows against the recorded
// runs' trend. A run of live rows only draws nothing.
func (r *runner) writeChart() error {
	if len(r.cfg.Scenarios) == 0 {
		return nil
	}
	when := strings.TrimSuffix(r.machine.Date, " UTC")
	var rows, latest []runFigures
	for _, b := range r.builds {
		for _, row := range b.orderedRows(r.cfg.Scenarios) {
			f := figuresOf("make bench "+filepath.Base(r.cfg.Out), when, b.name, row)
			f.File = r.cfg.Out
			rows = append(rows, f)
			if b.name == "current" {
				latest = append(latest, f)
			}
		}
	}
	var tsv bytes.Buffer
	if err := writeRuns(&tsv, rows); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.cfg.Out, "runs.tsv"), tsv.Bytes(), 0o644); err != nil {
		return err
	}
	history, err := readRuns(filepath.Join(r.root, runsFile))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.root, "bench", "latest.svg"), []byte(chartSVG(latest, append(history, rows...))), 0o644)
}
