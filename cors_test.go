package main

import (
	"slices"
	"testing"
)

// dev takes CORS_ORIGINS when it is set (a Vite app on :5173), Next.js's :3000 otherwise.
func TestDevHonoursCORSOrigins(t *testing.T) {
	c, err := environment(env(map[string]string{"CORS_ORIGINS": "http://localhost:5173, http://127.0.0.1:5173/"})).dev()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://localhost:5173", "http://127.0.0.1:5173"}; !slices.Equal(c.CORSOrigins, want) {
		t.Errorf("CORS_ORIGINS set: %v, want %v", c.CORSOrigins, want)
	}
	c, err = environment(env(nil)).dev()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.CORSOrigins, devOrigins) {
		t.Errorf("CORS_ORIGINS unset: %v, want %v", c.CORSOrigins, devOrigins)
	}
}
