package main

import (
	"fmt"
	"io"
	"strings"
)

// doctorReport prints one line per check: ok or FAIL, and for a failure the fix.
type doctorReport struct {
	w      io.Writer
	failed int
}

func (r *doctorReport) ok(name, detail string) {
	fmt.Fprintf(r.w, "ok    %s", name)
	if detail != "" {
		fmt.Fprintf(r.w, ": %s", detail)
	}
	fmt.Fprintln(r.w)
}

func (r *doctorReport) fail(name string, err error, fix string) {
	r.failed++
	fmt.Fprintf(r.w, "FAIL  %s: %v\n      fix: %s\n", name, err, fix)
}

// warn reports a risk that does not stop the server working; it does not count as a failure.
func (r *doctorReport) warn(name, problem, fix string) {
	fmt.Fprintf(r.w, "WARN  %s: %s\n      fix: %s\n", name, problem, fix)
}

func (r *doctorReport) skip(name, why string) {
	fmt.Fprintf(r.w, "--    %s: not checked (%s)\n", name, why)
}

// indent prints a diagnostic's own output under its check line.
func indent(w io.Writer, out string) {
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}
