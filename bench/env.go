package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// envReader reads the BENCH_* and SOAK_* variables into a config, collecting what is wrong with
// them; an unset variable leaves the default.
type envReader struct{ errs []error }

// duration reads key into dst; a value under least is wrong ("is not <want>").
func (e *envReader) duration(key string, dst *time.Duration, least time.Duration, want string) {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < least {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not %s", key, v, want))
		}
		*dst = d
	}
}

// integer reads key into dst; a value under least is wrong ("is not <want>").
func (e *envReader) integer(key string, dst *int, least int, want string) {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not %s", key, v, want))
		}
		*dst = n
	}
}

// str reads key into dst when it is set.
func (e *envReader) str(key string, dst *string) {
	if v := os.Getenv(key); v != "" {
		*dst = v
	}
}

// on says whether key is set to something other than 0.
func on(key string) bool { return os.Getenv(key) != "" && os.Getenv(key) != "0" }

// outDir is the run's folder: the variable's value, else bench/out/<prefix><time>.
func outDir(key, prefix string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return "bench/out/" + prefix + time.Now().Format("20060102-150405")
}

// startRun finds the repository's root and makes the run's folder.
func startRun(out string) (root string, err error) {
	if root, err = repoRoot(); err != nil {
		return "", err
	}
	return root, os.MkdirAll(out, 0o755)
}
