package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// source returns the folder to build and a label for the report: the working tree itself when rev
// is "", else rev's tree extracted with git archive into dir (no worktree, nothing left in .git).
func source(ctx context.Context, root, rev, dir string) (src, label string, err error) {
	if rev == "" {
		label = gitOut(ctx, root, "rev-parse", "--short", "HEAD")
		if gitOut(ctx, root, "status", "--porcelain") != "" {
			label += " + uncommitted changes"
		}
		return root, "working tree at " + label, nil
	}
	hash := gitOut(ctx, root, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if hash == "" {
		return "", "", fmt.Errorf("%q is not a git revision", rev)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", hash)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	if err := untar(out, dir); err != nil {
		_ = cmd.Wait()
		return "", "", err
	}
	if err := cmd.Wait(); err != nil {
		return "", "", fmt.Errorf("git archive %s: %w", rev, err)
	}
	return dir, fmt.Sprintf("%s (%s)", hash[:7], rev), nil
}

func gitOut(ctx context.Context, dir string, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			continue // never outside dir
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// mainPackage finds the server's main package in src: the module root today, cmd/taskgraph if
// the code moves there. BENCH_MAIN overrides.
func mainPackage(ctx context.Context, src string) (string, error) {
	if p := os.Getenv("BENCH_MAIN"); p != "" {
		return p, nil
	}
	for _, p := range []string{".", "./cmd/taskgraph"} {
		cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Name}}", p)
		cmd.Dir = src
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) == "main" {
			return p, nil
		}
	}
	return "", fmt.Errorf("no main package at . or ./cmd/taskgraph in %s (set BENCH_MAIN)", src)
}

// goBuild builds the server with `go build` into bin. overlay, when set, adds files to the main
// package (file name → contents) without touching the source tree: `go build -overlay`.
func goBuild(ctx context.Context, src, bin string, overlay map[string]string) error {
	pkg, err := mainPackage(ctx, src)
	if err != nil {
		return err
	}
	args := []string{"build", "-o", bin}
	if len(overlay) > 0 {
		dir := filepath.Dir(bin)
		repl := map[string]string{}
		for name, text := range overlay {
			tmp := filepath.Join(dir, "overlay-"+name)
			if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
				return err
			}
			abs, err := filepath.Abs(filepath.Join(src, pkg, name))
			if err != nil {
				return err
			}
			repl[abs] = tmp
		}
		j, _ := json.Marshal(map[string]any{"Replace": repl})
		path := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(path, j, 0o644); err != nil {
			return err
		}
		args = append(args, "-overlay", path)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, src, err, out)
	}
	return nil
}
