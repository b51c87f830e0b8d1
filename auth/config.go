package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config says which tokens the server trusts. NewConfig fills in every default for a Better Auth
// base URL; ConfigFromEnv reads the environment over those defaults; tests change fields of either.
// NewVerifier checks the result and refuses a Config with a setting missing.
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
	DefaultAlgorithm   = "EdDSA"
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

// NewConfig trusts the Better Auth at betterAuthURL as Better Auth signs by default: keys from
// {betterAuthURL}/api/auth/jwks, iss and aud equal to the URL (without a trailing slash), EdDSA,
// the uuid claim, 30s of clock skew, a refresh every hour and 5s per JWKS fetch. It is the one
// place the defaults are applied. An empty URL leaves the JWKS URL, issuer and audience empty.
func NewConfig(betterAuthURL string) Config {
	base := strings.TrimRight(betterAuthURL, "/")
	c := Config{
		BetterAuthURL: base,
		Algorithms:    []string{DefaultAlgorithm},
		UUIDClaim:     DefaultUUIDClaim,
		ClockSkew:     DefaultClockSkew,
		JWKSRefresh:   DefaultJWKSRefresh,
		JWKSTimeout:   DefaultJWKSTimeout,
	}
	if base != "" {
		c.JWKSURL = base + jwksPath
		c.Issuer = base
		c.Audiences = []string{base}
	}
	return c
}

// Origin is the origin (scheme://host[:port]) of BetterAuthURL, where Better Auth and usually
// the frontend that signs users in are served; "" without a BetterAuthURL.
func (c Config) Origin() string {
	u, err := url.Parse(c.BetterAuthURL)
	if c.BetterAuthURL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ConfigFromEnv reads BETTER_AUTH_URL, AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_ALGORITHMS,
// AUTH_UUID_CLAIM, AUTH_CLOCK_SKEW, AUTH_JWKS_REFRESH and AUTH_JWKS_TIMEOUT over NewConfig's
// defaults. An error names the variable at fault. When BETTER_AUTH_URL is missing (and nothing
// else is wrong), the error wraps ErrNoBetterAuthURL and the returned Config still holds every
// other setting, so a diagnostic command given explicit URLs can go on.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	base := strings.TrimRight(env("BETTER_AUTH_URL"), "/")
	if base != "" {
		if err := checkURL(base); err != nil {
			return NewConfig(""), fmt.Errorf("BETTER_AUTH_URL: %w", err)
		}
	}
	cfg := NewConfig(base)
	for _, read := range []func(*Config, func(string) string) error{readTrust, readTokenShape, readDurations} {
		if err := read(&cfg, env); err != nil {
			return cfg, err
		}
	}
	if cfg.BetterAuthURL == "" {
		return cfg, fmt.Errorf("%w: set it to Better Auth's base URL, e.g. http://localhost:3000", ErrNoBetterAuthURL)
	}
	return cfg, nil
}

// readTrust reads whose keys and claims are trusted: AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE.
func readTrust(cfg *Config, env func(string) string) error {
	if v := env("AUTH_JWKS_URL"); v != "" {
		if err := checkURL(v); err != nil {
			return fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
		cfg.JWKSURL = v
	}
	if v := env("AUTH_ISSUER"); v != "" {
		cfg.Issuer = v
	}
	if v := env("AUTH_AUDIENCE"); v != "" {
		cfg.Audiences = splitList(v)
		if len(cfg.Audiences) == 0 {
			return fmt.Errorf("AUTH_AUDIENCE: %q names no audience", v)
		}
	}
	return nil
}

// readTokenShape reads what a token must look like: AUTH_ALGORITHMS, AUTH_UUID_CLAIM.
func readTokenShape(cfg *Config, env func(string) string) error {
	if v := env("AUTH_ALGORITHMS"); v != "" {
		algs, err := parseAlgorithms(v)
		if err != nil {
			return fmt.Errorf("AUTH_ALGORITHMS: %w", err)
		}
		cfg.Algorithms = algs
	}
	if v := env("AUTH_UUID_CLAIM"); v != "" {
		cfg.UUIDClaim = v
	}
	return nil
}

// readDurations reads AUTH_CLOCK_SKEW (zero allowed), AUTH_JWKS_REFRESH and AUTH_JWKS_TIMEOUT.
func readDurations(cfg *Config, env func(string) string) error {
	for _, d := range []struct {
		name    string
		dst     *time.Duration
		zeroOK  bool
		example string // of the syntax, in the message
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
			return fmt.Errorf("%s: %q is not a positive Go duration (e.g. %s)", d.name, v, d.example)
		}
		*d.dst = dur
	}
	return nil
}

// validate checks a Config (from NewConfig, ConfigFromEnv or built by hand) and returns it with
// canonical algorithm names. It fills nothing in: a missing setting is an error.
func (c Config) validate() (Config, error) {
	if c.JWKSURL == "" {
		return c, errors.New("auth config: no JWKS URL (NewConfig derives it from the Better Auth URL)")
	}
	if err := checkURL(c.JWKSURL); err != nil {
		return c, fmt.Errorf("auth config: JWKS URL: %w", err)
	}
	if c.Issuer == "" || len(c.Audiences) == 0 {
		return c, errors.New("auth config: issuer and audience are required")
	}
	algs, err := parseAlgorithms(strings.Join(c.Algorithms, ","))
	if err != nil {
		return c, fmt.Errorf("auth config: %w", err)
	}
	c.Algorithms = algs
	switch {
	case c.UUIDClaim == "":
		return c, errors.New("auth config: no uuid claim name")
	case c.ClockSkew < 0:
		return c, errors.New("auth config: negative clock skew")
	case c.JWKSRefresh <= 0 || c.JWKSTimeout <= 0:
		return c, errors.New("auth config: the JWKS refresh interval and fetch timeout must be positive")
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
