package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProc is a running `taskgraph serve`.
type serverProc struct {
	cmd  *exec.Cmd
	url  string // the GraphQL endpoint
	base string // http://127.0.0.1:port
	log  *os.File
	exit chan error
	once sync.Once // stop runs once: a row may stop its server before the run's cleanup does
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `bin serve` against databaseURL, trusting iss, and waits until /readyz says
// it is ready (database reachable, JWKS loaded). env is added last, so it overrides.
func startServer(ctx context.Context, bin, databaseURL string, iss *issuer, logPath string, env []string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(baseEnv(),
		"BETTER_AUTH_URL="+iss.url,
		"DATABASE_URL="+databaseURL,
		"ADDR="+addr,
		// Short enough that the load phase spans several refreshes, so the JWKS count means
		// something (the default is 1h); BENCH_SERVER_ENV may override it.
		"AUTH_JWKS_REFRESH=30s",
		// The bench reads the server's /metrics (allocations, GC, open subscriptions) on ADDR;
		// serve keeps it off there by default.
		"METRICS_PUBLIC=true",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &serverProc{cmd: cmd, base: "http://" + addr, url: "http://" + addr + "/graphql", log: logf, exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()
	if err := s.waitReady(ctx, logPath); err != nil {
		return nil, err
	}
	return s, nil
}

// waitReady waits up to 60 s until the server's /readyz answers 200; a server that exits or does
// not get ready is an error (see its log).
func (s *serverProc) waitReady(ctx context.Context, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-s.exit:
			s.log.Close()
			return fmt.Errorf("server exited before it was ready (%v); see %s", err, logPath)
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := client.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("server not ready after 60s; see %s", logPath)
		}
	}
}

// stop sends SIGTERM and waits for the graceful shutdown, killing it after 15s.
func (s *serverProc) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		waitOrKill(s.cmd.Process, s.exit, 15*time.Second)
		s.log.Close()
	})
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every Linux architecture
// Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime is the process's user + system CPU time so far (/proc/<pid>/stat utime + stime).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed: state is field 3, utime 14.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux ≥ 4.0: clear_refs "5").
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSS is VmHWM, the peak resident set size, in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// hostBusy reads /proc/stat's aggregate CPU counters: busy and total ticks.
func hostBusy() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 {
		return 0, 0
	}
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal (guest is in user)
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// waitOrKill waits for the process to exit, and kills it when it has not after grace.
func waitOrKill(p *os.Process, exited <-chan error, grace time.Duration) {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
		return
	case <-timer.C:
	}
	_ = p.Kill()
	<-exited
}
