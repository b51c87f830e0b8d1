package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/taskgraph/taskgraph/bench/load"
)

// pprofOverlay is added to the server's main package for the profiling variant only, with
// `go build -overlay`: the measured binary and the source tree stay untouched. The server's own
// routes use their own mux, so DefaultServeMux carries nothing but pprof's handlers.
const pprofOverlay = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

// Added by bench/profile.go to a profiling build: pprof on BENCH_PPROF_ADDR.
func init() {
	addr := os.Getenv("BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
}
`

// profile builds the profiling variant of b, drives page1 against it as the measured run does,
// and keeps a CPU profile of the window and the allocation profile, with their top entries.
func (r *runner) profile(ctx context.Context, b *build) error {
	srv, bin, pprofURL, err := r.startProfiling(ctx, b, "server-profile.log")
	if err != nil {
		return err
	}
	defer srv.stop()
	reqs, err := scenarioByName("page1").prepare(b, &b.state)
	if err != nil {
		return err
	}
	secs := max(1, int(r.cfg.Duration.Seconds())-1)
	cpuPath := filepath.Join(b.out, "cpu-page1.pprof")
	got := make(chan error, 1)
	res, err := load.Run(ctx, load.Options{
		URL: srv.url, Conns: r.cfg.Conns, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration,
		Next: func(i uint64) load.Request { return reqs[i%uint64(len(reqs))].Request },
		Window: func(open bool) {
			if open {
				go func() { got <- fetch(ctx, fmt.Sprintf("%s/profile?seconds=%d", pprofURL, secs), cpuPath) }()
			}
		},
	})
	if err != nil {
		return err
	}
	if err := <-got; err != nil {
		return err
	}
	allocPath := filepath.Join(b.out, "allocs-page1.pprof")
	if err := fetch(ctx, pprofURL+"/allocs", allocPath); err != nil {
		return err
	}
	r.log.printf("profile: page1 on the pprof variant: %.0f req/s, p50 %.2f ms (%d errors)", res.RPS(), ms(res.Percentile(0.5)), res.Errors)
	return writeTops(ctx, b.out, bin, cpuPath, allocPath)
}

// writeTops writes and prints pprof's top listings of the page1 profiles and the CPU shares by
// area.
func writeTops(ctx context.Context, out, bin, cpuPath, allocPath string) error {
	for _, p := range []struct{ file, out string }{
		{cpuPath, "cpu-page1-top.txt"},
		{cpuPath, "cpu-page1-top-cum.txt"},
		{allocPath, "allocs-page1-top.txt"},
	} {
		args := []string{"tool", "pprof", "-top", "-nodecount=35"}
		if strings.Contains(p.out, "cum") {
			args = append(args, "-cum")
		}
		if strings.HasPrefix(p.out, "allocs") {
			args = append(args, "-sample_index=alloc_space")
		}
		listing, err := exec.CommandContext(ctx, "go", append(args, bin, p.file)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %v\n%s", err, listing)
		}
		path := filepath.Join(out, p.out)
		if err := os.WriteFile(path, listing, 0o644); err != nil {
			return err
		}
		fmt.Printf("\n#### %s\n\n```\n%s```\n", path, head(string(listing), 30))
	}
	shares, err := cpuShares(ctx, bin, cpuPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "cpu-page1-shares.md"), []byte(shares), 0o644); err != nil {
		return err
	}
	fmt.Printf("\n#### share of the server's CPU samples under page1 load (a sample counts in every area on its stack)\n\n%s", shares)
	return nil
}

// startProfiling builds the pprof variant of b once and starts it on b's database; it returns
// the server, the binary (for pprof's symbols) and its pprof URL.
func (r *runner) startProfiling(ctx context.Context, b *build, logName string) (*serverProc, string, string, error) {
	tmp, err := r.tempDir()
	if err != nil {
		return nil, "", "", err
	}
	bin := filepath.Join(tmp, "taskgraph-profile")
	if _, err := os.Stat(bin); err != nil {
		r.log.printf("profile: building the pprof variant of %s", b.rev)
		if err := goBuild(ctx, b.src, bin, map[string]string{"zz_bench_pprof.go": pprofOverlay}); err != nil {
			return nil, "", "", err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	env := append([]string{"BENCH_PPROF_ADDR=127.0.0.1:" + strconv.Itoa(port)}, liveServerEnv(r.cfg)...) // the subscribe profile's sockets
	srv, err := startServer(ctx, bin, b.db.url, b.iss, filepath.Join(b.out, logName), env)
	if err != nil {
		return nil, "", "", err
	}
	return srv, bin, "http://127.0.0.1:" + strconv.Itoa(port) + "/debug/pprof", nil
}

// cpuAreas group a profile's samples by what they were doing; a sample counts in each area one
// of whose functions is on its stack, so shares overlap (GC inside allocation, lib/pq inside
// resolvers).
var cpuAreas = []struct{ name, focus string }{
	{"HTTP handler, all of it (net/http conn serve)", `net/http\.\(\*conn\)\.serve`},
	{"token verification (auth Verify)", `auth\.\(\*Verifier\)\.Verify`},
	{"live updates: the hub's row loads (live Hub.load)", `live\.\(\*Hub\)\.load`},
	{"live updates: events to subscribers (gqlgen WebSocket subscribe loop)", `transport\.\(\*wsConnection\)\.subscribe`},
	{"GraphQL parse + validate (gqlparser)", `gqlparser`},
	{"GraphQL execution (gqlgen executor, resolvers, marshalling)", `graphql/executor\.\(\*Executor\)\.DispatchOperation`},
	{"database driver (lib/pq, database/sql, sqlx)", `github\.com/lib/pq|database/sql|jmoiron/sqlx`},
	{"JSON (encoding/json)", `encoding/json`},
	{"logging (log/slog)", `log/slog`},
	{"metrics (prometheus)", `prometheus`},
	{"memory allocation (mallocgc)", `runtime\.mallocgc`},
	{"garbage collection (gcDrain: background and assists)", `runtime\.gcDrain|runtime\.gcBgMarkWorker`},
	{"system calls (network reads and writes)", `internal/runtime/syscall|syscall\.Syscall|syscall\.RawSyscall`},
	{"scheduler (findRunnable, schedule)", `runtime\.findRunnable|runtime\.schedule$`},
}

var sharePattern = regexp.MustCompile(`Showing nodes accounting for [^,]+, ([0-9.]+)% of`)

// cpuShares renders cpuAreas as a table, each share read from pprof -focus with every node kept
// (the shown nodes' flat times then add up to the focused samples).
func cpuShares(ctx context.Context, bin, profile string) (string, error) {
	var b strings.Builder
	b.WriteString("| area | share of CPU samples |\n|---|--:|\n")
	for _, a := range cpuAreas {
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0",
			"-edgefraction=0", "-focus="+a.focus, bin, profile).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof -focus: %v\n%s", err, out)
		}
		share := "0%"
		if m := sharePattern.FindSubmatch(out); m != nil {
			share = string(m[1]) + "%"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", a.name, share)
	}
	return b.String(), nil
}

func fetch(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}
