package main

import (
	"fmt"
	"strconv"
	"time"
)

// environment reads the configuration (README.md, Configuration). Every command reads the
// environment through it; tests pass a map instead of os.Getenv.
type environment func(string) string

func (e environment) or(key, def string) string {
	if v := e(key); v != "" {
		return v
	}
	return def
}

func (e environment) bool(key string) (bool, error) {
	v := e(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", key, v)
	}
	return b, nil
}

// defaultDatabaseURL is DATABASE_URL's default: the local PostgreSQL that `go run . dev` expects.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func (e environment) databaseURL() string { return e.or("DATABASE_URL", defaultDatabaseURL) }

// sessionURL is DATABASE_LISTEN_URL, by default DATABASE_URL: the connection that must be a
// PostgreSQL session of its own (the listener's LISTEN, the migrations' advisory lock).
func (e environment) sessionURL() string { return e.or("DATABASE_LISTEN_URL", e.databaseURL()) }

// positive reads a positive integer, def when unset.
func (e environment) positive(key string, def int) (int, error) {
	v := e(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %q is not a positive integer", key, v)
	}
	return n, nil
}

// boolInto is a step that reads the boolean key into dst.
func (e environment) boolInto(key string, dst *bool) func() error {
	return func() (err error) {
		*dst, err = e.bool(key)
		return err
	}
}

// duration reads a positive Go duration of at most an hour, def when unset.
func (e environment) duration(key string, def time.Duration) (time.Duration, error) {
	v := e(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > time.Hour {
		return 0, fmt.Errorf("%s: %q is not a Go duration between 0 and 1h (e.g. 30s)", key, v)
	}
	return d, nil
}
