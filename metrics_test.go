package main

import (
	"testing"
)

func TestRouteLabelIsThePatternWithoutItsMethod(t *testing.T) {
	for pattern, want := range map[string]string{
		"POST /graphql":      "/graphql",
		"GET /graphql":       "/graphql",
		"GET /{$}":           "/",
		"GET /api/auth/jwks": "/api/auth/jwks",
		"":                   "other",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}
