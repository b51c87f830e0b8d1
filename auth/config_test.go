package auth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskgraph/taskgraph/auth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnvDefaults(t *testing.T) {
	cfg, err := auth.ConfigFromEnv(env(map[string]string{"BETTER_AUTH_URL": "http://localhost:3000/"}))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Config{
		BetterAuthURL: "http://localhost:3000",
		JWKSURL:       "http://localhost:3000/api/auth/jwks",
		Issuer:        "http://localhost:3000",
		Audiences:     []string{"http://localhost:3000"},
		Algorithms:    []string{"EdDSA"},
		UUIDClaim:     "uuid",
		ClockSkew:     30 * time.Second,
		JWKSRefresh:   time.Hour,
		JWKSTimeout:   5 * time.Second,
	}
	if !equalConfig(cfg, want) {
		t.Fatalf("cfg = %+v\nwant  %+v", cfg, want)
	}
}

func TestConfigFromEnvOverrides(t *testing.T) {
	cfg, err := auth.ConfigFromEnv(env(map[string]string{
		"BETTER_AUTH_URL":   "https://auth.example",
		"AUTH_JWKS_URL":     "https://keys.example/jwks.json",
		"AUTH_ISSUER":       "https://issuer.example",
		"AUTH_AUDIENCE":     "https://a.example, https://b.example,",
		"AUTH_ALGORITHMS":   "Ed25519,ES256, rs256,EdDSA",
		"AUTH_UUID_CLAIM":   "app_uuid",
		"AUTH_CLOCK_SKEW":   "0s",
		"AUTH_JWKS_REFRESH": "10m",
		"AUTH_JWKS_TIMEOUT": "2s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Config{
		BetterAuthURL: "https://auth.example",
		JWKSURL:       "https://keys.example/jwks.json",
		Issuer:        "https://issuer.example",
		Audiences:     []string{"https://a.example", "https://b.example"},
		Algorithms:    []string{"EdDSA", "ES256", "RS256"},
		UUIDClaim:     "app_uuid",
		ClockSkew:     0,
		JWKSRefresh:   10 * time.Minute,
		JWKSTimeout:   2 * time.Second,
	}
	if !equalConfig(cfg, want) {
		t.Fatalf("cfg = %+v\nwant  %+v", cfg, want)
	}
}

func TestConfigFromEnvErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"BETTER_AUTH_URL", "localhost:3000"},
		{"AUTH_JWKS_URL", "ftp://x"},
		{"AUTH_AUDIENCE", " , "},
		{"AUTH_ALGORITHMS", "HS256"},
		{"AUTH_ALGORITHMS", "none"},
		{"AUTH_ALGORITHMS", "RS384"},
		{"AUTH_CLOCK_SKEW", "30"},
		{"AUTH_CLOCK_SKEW", "-1s"},
		{"AUTH_JWKS_REFRESH", "0s"},
		{"AUTH_JWKS_TIMEOUT", "soon"},
	} {
		m := map[string]string{"BETTER_AUTH_URL": "http://localhost:3000"}
		m[tc.name] = tc.value
		_, err := auth.ConfigFromEnv(env(m))
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: err = %v, want an error naming %s", tc.name, tc.value, err, tc.name)
		}
	}
}

func TestConfigFromEnvWithoutBetterAuthURL(t *testing.T) {
	cfg, err := auth.ConfigFromEnv(env(map[string]string{
		"AUTH_JWKS_TIMEOUT": "3s", "AUTH_JWKS_URL": "http://keys.example/jwks", "AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a",
	}))
	if !errors.Is(err, auth.ErrNoBetterAuthURL) || !strings.Contains(err.Error(), "BETTER_AUTH_URL") {
		t.Fatalf("err = %v, want ErrNoBetterAuthURL", err)
	}
	if cfg.JWKSTimeout != 3*time.Second || cfg.JWKSURL != "http://keys.example/jwks" || cfg.Issuer != "i" {
		t.Fatalf("the other settings are lost: %+v", cfg)
	}
}

func equalConfig(a, b auth.Config) bool {
	return a.BetterAuthURL == b.BetterAuthURL && a.JWKSURL == b.JWKSURL && a.Issuer == b.Issuer &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Algorithms, b.Algorithms) &&
		a.UUIDClaim == b.UUIDClaim && a.ClockSkew == b.ClockSkew && a.JWKSRefresh == b.JWKSRefresh &&
		a.JWKSTimeout == b.JWKSTimeout
}
