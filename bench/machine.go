package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// machineInfo is the run's context for the record: figures are only comparable within a run.
type machineInfo struct {
	Date       string `json:"date"`
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemGiB     int    `json:"mem_gib"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql"`
	Pgbench    string `json:"pgbench"`
	LoadAvg    string `json:"loadavg_at_start"`
}

func describeMachine(ctx context.Context, pgURL string) (machineInfo, error) {
	m := machineInfo{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), CPUs: runtime.NumCPU()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			kb, _ := strconv.Atoi(f[1])
			m.MemGiB = (kb + 1<<19) >> 20
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	out, err := exec.CommandContext(ctx, "pgbench", "--version").Output()
	if err != nil {
		return m, err // pgbench is part of the measurement: without it there is no (a) or (b)
	}
	m.Pgbench = strings.TrimSpace(string(out))
	x, err := sqlx.Open("postgres", pgURL)
	if err != nil {
		return m, err
	}
	defer x.Close()
	var v string
	if err := x.QueryRowxContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		return m, err
	}
	m.PostgreSQL = v
	return m, nil
}

// goMetrics are the server's Go runtime counters from its Prometheus /metrics.
type goMetrics struct {
	ok         bool
	allocBytes float64 // go_memstats_alloc_bytes_total
	gcCount    float64 // go_gc_duration_seconds_count
}

func scrapeGoMetrics(base string) goMetrics {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return goMetrics{}
	}
	defer resp.Body.Close()
	var m goMetrics
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_alloc_bytes_total":
			m.allocBytes, found = v, found+1
		case "go_gc_duration_seconds_count":
			m.gcCount, found = v, found+1
		}
	}
	m.ok = found == 2
	return m
}

// jsonValue renders a cursor variable: null or a JSON string.
func jsonValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// endCursor reads pageInfo of a tasks answer.
func endCursor(body []byte) (string, bool) {
	var r struct {
		Data struct {
			Tasks struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", false
	}
	p := r.Data.Tasks.PageInfo
	if !p.HasNextPage || p.EndCursor == nil {
		return "", false
	}
	return *p.EndCursor, true
}
