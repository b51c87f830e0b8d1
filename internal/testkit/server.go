package testkit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildServer builds the taskgraph binary of the module at moduleRoot into dir, once per test
// run (a TestMain's work), and returns its path.
func BuildServer(dir, moduleRoot string) (string, error) {
	bin := filepath.Join(dir, "taskgraph")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Process is the binary running one command; its output is collected while the test reads it.
type Process struct {
	cmd            *exec.Cmd
	Stdout, Stderr *SyncBuffer
	exited         chan struct{}
	exitCode       int
}

// processEnv is vars as the process's whole environment, with PATH and HOME: a test never
// depends on the environment it runs in, as when it passed a map for os.Getenv.
func processEnv(vars map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// StartProcess runs bin with args and vars; it is killed, if still running, when the test ends.
func StartProcess(t testing.TB, bin string, vars map[string]string, args ...string) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(bin, args...), Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = processEnv(vars)
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exitCode = ee.ExitCode()
		} else if err != nil {
			p.exitCode = -1
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// Run runs a command of bin to its end and returns its exit code and output.
func Run(t testing.TB, bin string, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := StartProcess(t, bin, vars, args...)
	code = p.Wait(t, 2*time.Minute)
	return code, p.Stdout.String(), p.Stderr.String()
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait waits up to timeout for the process to exit and returns its exit code.
func (p *Process) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited: // already (timeout 0 reads the code of a process that has exited)
		return p.exitCode
	default:
	}
	select {
	case <-p.exited:
		return p.exitCode
	case <-time.After(timeout):
		t.Fatalf("the process did not exit within %s:\n%s", timeout, p.Stderr.String())
	}
	return -1
}

// Terminate sends SIGTERM, as a process manager stopping the server does.
func (p *Process) Terminate(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// Server is `serve` running as a process.
type Server struct {
	*Process
	Addr string // the address it took (ADDR=127.0.0.1:0 by default)
	Base string // http://Addr
}

// StartServe runs `bin serve` with vars on a free loopback port (unless vars sets ADDR) and
// waits until its /readyz answers 200. SIGTERM stops it when the test ends.
func StartServe(t testing.TB, bin string, vars map[string]string) *Server {
	t.Helper()
	s := StartServing(t, bin, vars)
	WaitReady(t, s.Base)
	return s
}

// StartServing is StartServe without waiting for /readyz: the server says it is serving (while
// its JWKS may still be down, say).
func StartServing(t testing.TB, bin string, vars map[string]string) *Server {
	t.Helper()
	all := map[string]string{"ADDR": "127.0.0.1:0"}
	for k, v := range vars {
		all[k] = v
	}
	s := &Server{Process: StartProcess(t, bin, all, "serve")}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop within 15s of SIGTERM")
		}
	})
	WaitFor(t, "the serving log line", 60*time.Second, func() bool {
		select {
		case <-s.exited:
			t.Fatalf("serve exited %d before serving:\n%s", s.exitCode, s.Stderr.String())
		default:
		}
		s.Addr, _ = ServingLine(s.Stderr.String())["addr"].(string)
		return s.Addr != ""
	})
	s.Base = "http://" + s.Addr
	return s
}

// ServingLine returns the fields of the JSON log's "serving" line (the address serve took) found
// in logs, one line or many; nil when it is not there yet.
func ServingLine(logs string) map[string]any {
	for _, line := range strings.Split(logs, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "serving" {
			return l
		}
	}
	return nil
}

// LogLines are the JSON log's lines in logs, decoded.
func LogLines(logs string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// WaitReady waits until base's /readyz answers 200.
func WaitReady(t testing.TB, base string) {
	t.Helper()
	WaitFor(t, "readyz", 20*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// WaitFor polls cond every 20 ms until it holds, failing the test after timeout.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
