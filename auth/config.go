package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config says which tokens the server trusts. ConfigFromEnv builds it from the environment; tests
// build it directly.
type Config struct {
	BetterAuthURL string   // BETTER_AUTH_URL: Better Auth's base URL
	JWKSURL       string   // AUTH_JWKS_URL: where the public keys are published
	Issuer        string   // AUTH_ISSUER: the required iss
	Audiences     []string // AUTH_AUDIENCE: a token's aud must contain one of these
	// Algorithms is the allow-list, in canonical names: "EdDSA", "ES256", "ES512", "RS256", "PS256".
	Algorithms  []string
	UUIDClaim   string        // AUTH_UUID_CLAIM: the claim holding the application user UUID
	ClockSkew   time.Duration // AUTH_CLOCK_SKEW: leeway for exp, nbf and iat
	JWKSRefresh time.Duration // AUTH_JWKS_REFRESH: background refresh interval
	JWKSTimeout time.Duration // AUTH_JWKS_TIMEOUT: bound of one JWKS fetch
}

// Defaults of the settings that have one.
const (
	DefaultUUIDClaim   = "uuid"
	DefaultClockSkew   = 30 * time.Second
	DefaultJWKSRefresh = time.Hour
	DefaultJWKSTimeout = 5 * time.Second
	jwksPath           = "/api/auth/jwks"
)

// ErrNoBetterAuthURL is returned (wrapped) by ConfigFromEnv when BETTER_AUTH_URL is not set.
var ErrNoBetterAuthURL = errors.New("BETTER_AUTH_URL is not set")

// supportedAlgorithms are the asymmetric algorithms Better Auth's jwt plugin can sign with.
// HMAC and "none" are never accepted, whatever the configuration says.
var supportedAlgorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

// canonicalAlg maps an algorithm name to its canonical form; Ed25519 is RFC 9864's name for EdDSA
// over Ed25519. ok is false for anything outside supportedAlgorithms.
func canonicalAlg(name string) (alg string, ok bool) {
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, "Ed25519") {
		return "EdDSA", true
	}
	for _, a := range supportedAlgorithms {
		if strings.EqualFold(name, a) {
			return a, true
		}
	}
	return "", false
}

// ConfigFromEnv reads BETTER_AUTH_URL, AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_ALGORITHMS,
// AUTH_UUID_CLAIM, AUTH_CLOCK_SKEW, AUTH_JWKS_REFRESH and AUTH_JWKS_TIMEOUT, applying the defaults
// of the documentation. An error names the variable at fault. When BETTER_AUTH_URL is missing (and
// nothing else is wrong), the error wraps ErrNoBetterAuthURL and the returned Config still holds
// every other setting, so a diagnostic command given explicit URLs can go on.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		UUIDClaim:   DefaultUUIDClaim,
		ClockSkew:   DefaultClockSkew,
		JWKSRefresh: DefaultJWKSRefresh,
		JWKSTimeout: DefaultJWKSTimeout,
		Algorithms:  []string{"EdDSA"},
	}
	base := strings.TrimRight(env("BETTER_AUTH_URL"), "/")
	if base != "" {
		if err := checkURL(base); err != nil {
			return cfg, fmt.Errorf("BETTER_AUTH_URL: %w", err)
		}
		cfg.BetterAuthURL = base
		cfg.JWKSURL = base + jwksPath
		cfg.Issuer = base
		cfg.Audiences = []string{base}
	}
	if v := env("AUTH_JWKS_URL"); v != "" {
		if err := checkURL(v); err != nil {
			return cfg, fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
		cfg.JWKSURL = v
	}
	if v := env("AUTH_ISSUER"); v != "" {
		cfg.Issuer = v
	}
	if v := env("AUTH_AUDIENCE"); v != "" {
		cfg.Audiences = splitList(v)
		if len(cfg.Audiences) == 0 {
			return cfg, fmt.Errorf("AUTH_AUDIENCE: %q names no audience", v)
		}
	}
	if v := env("AUTH_ALGORITHMS"); v != "" {
		algs, err := parseAlgorithms(v)
		if err != nil {
			return cfg, fmt.Errorf("AUTH_ALGORITHMS: %w", err)
		}
		cfg.Algorithms = algs
	}
	if v := env("AUTH_UUID_CLAIM"); v != "" {
		cfg.UUIDClaim = v
	}
	for _, d := range []struct {
		name     string
		dst      *time.Duration
		zeroOK   bool
		examples string
	}{
		{"AUTH_CLOCK_SKEW", &cfg.ClockSkew, true, "30s"},
		{"AUTH_JWKS_REFRESH", &cfg.JWKSRefresh, false, "1h"},
		{"AUTH_JWKS_TIMEOUT", &cfg.JWKSTimeout, false, "5s"},
	} {
		v := env(d.name)
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur < 0 || (dur == 0 && !d.zeroOK) {
			return cfg, fmt.Errorf("%s: %q is not a positive Go duration (e.g. %s)", d.name, v, d.examples)
		}
		*d.dst = dur
	}
	if cfg.BetterAuthURL == "" {
		return cfg, fmt.Errorf("%w: set it to Better Auth's base URL, e.g. http://localhost:3000", ErrNoBetterAuthURL)
	}
	return cfg, nil
}

// validate checks a Config built by hand and fills in zero durations with the defaults.
func (c Config) validate() (Config, error) {
	if c.JWKSURL == "" {
		if c.BetterAuthURL == "" {
			return c, errors.New("auth config: neither JWKSURL nor BetterAuthURL is set")
		}
		c.JWKSURL = strings.TrimRight(c.BetterAuthURL, "/") + jwksPath
	}
	if err := checkURL(c.JWKSURL); err != nil {
		return c, fmt.Errorf("auth config: JWKS URL: %w", err)
	}
	if c.Issuer == "" {
		c.Issuer = strings.TrimRight(c.BetterAuthURL, "/")
	}
	if len(c.Audiences) == 0 && c.BetterAuthURL != "" {
		c.Audiences = []string{strings.TrimRight(c.BetterAuthURL, "/")}
	}
	if c.Issuer == "" || len(c.Audiences) == 0 {
		return c, errors.New("auth config: issuer and audience are required")
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"EdDSA"}
	}
	algs, err := parseAlgorithms(strings.Join(c.Algorithms, ","))
	if err != nil {
		return c, fmt.Errorf("auth config: %w", err)
	}
	c.Algorithms = algs
	if c.UUIDClaim == "" {
		c.UUIDClaim = DefaultUUIDClaim
	}
	if c.ClockSkew < 0 {
		return c, errors.New("auth config: negative clock skew")
	}
	if c.JWKSRefresh <= 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSTimeout <= 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	return c, nil
}

func parseAlgorithms(list string) ([]string, error) {
	var algs []string
	for _, name := range splitList(list) {
		alg, ok := canonicalAlg(name)
		if !ok {
			return nil, fmt.Errorf("%q is not one of %s (HMAC and none are never accepted)",
				name, strings.Join(supportedAlgorithms, ", "))
		}
		if !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("no algorithm given; use some of %s", strings.Join(supportedAlgorithms, ", "))
	}
	return algs, nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
