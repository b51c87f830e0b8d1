package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VerifyJWKS fetches the JWKS at jwksURL (one request bounded by timeout) and prints each key
// (kid, kty, crv, alg, use), the fetch time and status. It returns an error, after printing why,
// when the fetch fails, the document is not a JWKS, the set is empty, a key holds private
// material, or a key does not parse. Keys this server would skip (use=enc, other algorithms) are
// reported but are not failures.
func VerifyJWKS(ctx context.Context, w io.Writer, jwksURL string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultJWKSTimeout
	}
	if err := checkURL(jwksURL); err != nil {
		fmt.Fprintf(w, "FAIL: JWKS URL %v\n", err)
		return fmt.Errorf("JWKS: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(w, "JWKS %s\n", jwksURL)
	_, rep, err := fetchJWKS(ctx, newJWKSClient(timeout), jwksURL)
	fmt.Fprintf(w, "fetched at %s in %s, HTTP status %s\n", time.Now().UTC().Format(time.RFC3339),
		rep.Duration.Round(time.Millisecond), statusText(rep.Status))
	if err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", err)
		return fmt.Errorf("JWKS: %w", err)
	}
	usable, problems := reportKeys(w, rep.Keys)
	if len(rep.Keys) == 0 {
		problems = append(problems, "the key set is empty (Better Auth creates its first key on the first /jwks or /token call)")
	} else if usable == 0 && len(problems) == 0 {
		problems = append(problems, "no key this server can verify signatures with")
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "FAIL: %s\n", strings.Join(problems, "; "))
		return fmt.Errorf("JWKS: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintf(w, "OK: %d usable signing key(s)\n", usable)
	return nil
}

// reportKeys prints one line per key and what this server makes of it; it returns how many keys
// can verify signatures and what is wrong with the others.
func reportKeys(w io.Writer, keys []jwkReport) (usable int, problems []string) {
	fmt.Fprintf(w, "%d key(s):\n", len(keys))
	for i, k := range keys {
		fmt.Fprintf(w, "  [%d] kid=%s kty=%s crv=%s alg=%s use=%s\n", i, orNone(k.KID), orNone(k.KTY), orNone(k.CRV), orNone(k.ALG), orNone(k.USE))
		switch {
		case len(k.Private) > 0:
			msg := fmt.Sprintf("key %d holds private key material (%s): Better Auth must publish public keys only; rotate this key", i, strings.Join(k.Private, ", "))
			fmt.Fprintf(w, "      FAIL: %s\n", msg)
			problems = append(problems, msg)
		case k.Err != nil:
			msg := fmt.Sprintf("key %d does not parse: %v", i, k.Err)
			fmt.Fprintf(w, "      FAIL: %s\n", msg)
			problems = append(problems, msg)
		case k.Skip != "":
			fmt.Fprintf(w, "      skipped: %s\n", k.Skip)
		default:
			usable++
			fmt.Fprintln(w, "      ok")
		}
		if k.KID == "" {
			fmt.Fprintln(w, "      note: no kid; tokens are matched by key type")
		}
	}
	return usable, problems
}

func statusText(code int) string {
	if code == 0 {
		return "none (no response)"
	}
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// VerifyToken verifies token exactly as the server would with cfg and prints the decoded header
// and claims, the time left until expiry, and on failure the reason code and how to fix it. It
// never prints the token itself. lookup may be nil (then a token without the UUID claim fails).
func VerifyToken(ctx context.Context, w io.Writer, cfg Config, token string, lookup SubLookup) error {
	cfg, err := cfg.validate()
	if err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", err)
		return err
	}
	token = strings.TrimSpace(token)
	if scheme, rest, ok := strings.Cut(token, " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
	}
	fmt.Fprintf(w, "configuration: JWKS %s, issuer %s, audience %s, algorithms %s, uuid claim %q, clock skew %s\n",
		cfg.JWKSURL, cfg.Issuer, strings.Join(cfg.Audiences, ","), strings.Join(cfg.Algorithms, ","), cfg.UUIDClaim, cfg.ClockSkew)
	printUnverified(w, token)

	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := NewVerifier(vctx, cfg, lookup, Hooks{})
	if err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", err)
		return err
	}
	if err := v.keys.refresh(); err != nil {
		fmt.Fprintf(w, "JWKS: FAIL: %v\n", err)
		fmt.Fprintf(w, "fix: %s\n", Fix(ReasonUnavailable))
		return fmt.Errorf("JWKS unavailable: %w", err)
	}
	fmt.Fprintf(w, "JWKS: %s\n", v.describeKeys())

	u, err := v.Verify(ctx, token)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = refuse(ReasonMalformedToken, "the token could not be verified")
		}
		fmt.Fprintf(w, "FAIL: %s\n", e.Reason)
		fmt.Fprintf(w, "  %s\n", e.Message)
		fmt.Fprintf(w, "fix: %s\n", Fix(e.Reason))
		return fmt.Errorf("token refused: %s", e.Reason)
	}
	fmt.Fprintf(w, "OK: user uuid=%s sub=%s email=%s name=%s\n", u.UUID, u.ID, orNone(u.Email), orNone(u.Name))
	return nil
}

// printUnverified shows what the token says before anything is checked.
func printUnverified(w io.Writer, token string) {
	if len(token) > MaxTokenBytes {
		fmt.Fprintf(w, "token: %d bytes (over the %d limit)\n", len(token), MaxTokenBytes)
		return
	}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if tok == nil || tok.Header == nil {
		fmt.Fprintf(w, "token: cannot be decoded (%d bytes): not a compact JWT\n", len(token))
		return
	}
	header, _ := json.MarshalIndent(tok.Header, "  ", "  ")
	fmt.Fprintf(w, "header (unverified):\n  %s\n", header)
	if err != nil && len(claims) == 0 {
		fmt.Fprintln(w, "claims: cannot be decoded")
		return
	}
	body, _ := json.MarshalIndent(claims, "  ", "  ")
	fmt.Fprintf(w, "claims (unverified):\n  %s\n", body)
	now := time.Now()
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		if d := exp.Sub(now); d >= 0 {
			fmt.Fprintf(w, "expires %s (in %s)\n", exp.UTC().Format(time.RFC3339), ago(d))
		} else {
			fmt.Fprintf(w, "expired %s (%s ago)\n", exp.UTC().Format(time.RFC3339), ago(d))
		}
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		fmt.Fprintf(w, "issued %s (%s ago)\n", iat.UTC().Format(time.RFC3339), ago(now.Sub(iat.Time)))
	}
}
