package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// MaxTokenBytes bounds a token; larger ones are refused before any parsing.
const MaxTokenBytes = 8 << 10

func init() {
	// RFC 9864 names EdDSA over Ed25519 "Ed25519": accept it in a token's alg. The alias method
	// reports Alg() == "EdDSA", so the allow-list and key matching see the canonical name.
	jwt.RegisterSigningMethod("Ed25519", func() jwt.SigningMethod { return jwt.SigningMethodEdDSA })
}

// SubLookup resolves a verified Better Auth user id (sub) to the application UUID ("user".uuid).
// found is false when there is no such row. db.Store implements it.
type SubLookup interface {
	UserUUIDBySub(ctx context.Context, sub string) (id uuid.UUID, found bool, err error)
}

// Hooks lets the server count events without this package importing a metrics library.
// Every field is optional.
type Hooks struct {
	AuthFailure func(reason string) // a request was refused (reason is one of the Reason constants)
	JWKSFetch   func(err error)     // a JWKS fetch ended; err is nil on success
}

// Verifier checks Better Auth JWTs. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	keys   *keyStore
	subs   *subCache
	tokens *tokenCache
	hooks  Hooks
	now    func() time.Time
}

// NewVerifier builds the key store and the JWT parser once. It never blocks on the JWKS: the first
// fetch and the periodic refresh run in the background until ctx is done. lookup may be nil; then a
// token without the UUID claim is refused with missing_claim.
func NewVerifier(ctx context.Context, cfg Config, lookup SubLookup, hooks Hooks) (*Verifier, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	keys, err := newKeyStore(ctx, cfg.JWKSURL, cfg.JWKSTimeout, cfg.JWKSRefresh, hooks.JWKSFetch)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		cfg:    cfg,
		hooks:  hooks,
		now:    time.Now,
		keys:   keys,
		tokens: newTokenCache(tokenCacheSize),
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audiences...), // any one of them
		jwt.WithLeeway(cfg.ClockSkew),
		// Canonical base64url only: otherwise the unused low bits of a segment's last
		// character could be changed and the token would still verify (a malleable string).
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return v.now() }), // one clock for jwt and the token cache
	)
	if lookup != nil {
		v.subs = newSubCache(lookup, subCacheSize, subCacheTTL)
	}
	go v.keys.run(ctx)
	return v, nil
}

// KeysLoaded reports whether a JWKS fetch has succeeded (for readiness checks).
func (v *Verifier) KeysLoaded() bool { return v.keys.loaded() }

// Config returns the verifier's configuration, with defaults filled in.
func (v *Verifier) Config() Config { return v.cfg }

// Verify checks token and returns its user. Errors are *Error. A token naming an unknown kid may
// wait for one JWKS fetch (at most about AUTH_JWKS_TIMEOUT), never longer.
func (v *Verifier) Verify(ctx context.Context, token string) (User, error) {
	if len(token) > MaxTokenBytes {
		return User{}, refuse(ReasonTokenTooLarge, "the token is %d bytes; the limit is %d", len(token), MaxTokenBytes)
	}
	if token == "" {
		return User{}, refuse(ReasonMalformedToken, "the bearer token is empty")
	}
	if !compactAlphabet(token) {
		return User{}, refuse(ReasonMalformedToken, "the bearer token has characters other than base64url and dots; send the JWT exactly as Better Auth issued it")
	}
	sum := sha256.Sum256([]byte(token))
	keys := v.keys.fingerprints() // before verifying: a fetch meanwhile makes the entry unusable
	if u, ok := v.tokens.get(sum, v.now(), keys); ok {
		return u, nil
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyfunc(ctx))
	if err != nil {
		return User{}, v.explain(tok, claims, err)
	}
	u, err := v.user(ctx, claims)
	if _, fromClaim := claims[v.cfg.UUIDClaim]; err == nil && fromClaim {
		v.tokens.put(sum, v.now(), tok, claims, v.cfg.ClockSkew, u, keys)
	}
	return u, err
}

// compactAlphabet reports whether token holds only base64url characters and dots: no padding, and
// none of the line breaks Go's base64 decoder skips, so one token has one spelling.
func compactAlphabet(token string) bool {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// keyfunc picks the verification key(s) for a token: only ever from the configured JWKS, never
// from the token's own jwk/jku/x5u/x5c headers. A kid is looked up with keyfunc in the jwkset
// storage; a token without one is served by keysFor.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: a recipient must refuse extensions it does not understand, and we
			// understand none. Better Auth never sets crit.
			return nil, refuse(ReasonMalformedToken, "the token's header lists critical extensions (crit), and this server supports none")
		}
		alg := t.Method.Alg() // canonical, and allow-listed by the parser already
		rawKID, hasKID := t.Header["kid"]
		kid, ok := rawKID.(string)
		if hasKID && !ok {
			return nil, refuse(ReasonMalformedToken, "the token's kid header is not a string")
		}
		if kid == "" {
			return v.keysFor(ctx, alg)
		}
		key, err := v.keyByKID(ctx, t, alg)
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			v.keys.refreshForUnknown(ctx, v.cfg.JWKSTimeout+time.Second)
			key, err = v.keyByKID(ctx, t, alg)
		}
		switch {
		case errors.Is(err, jwkset.ErrKeyNotFound):
			return nil, v.noKey("no key in the JWKS has the token's kid")
		case err != nil: // keyfunc: the JWK names another alg than the token
			return nil, refuse(ReasonInvalidSignature,
				"the JWKS key named by the token's kid is published for another algorithm, so it cannot verify a %s signature", alg)
		case !keyFits(key, alg): // a JWK without alg: match by key type and curve
			return nil, refuse(ReasonInvalidSignature,
				"the JWKS key named by the token's kid is a %s key, which cannot verify a %s signature", ktyOf(key), alg)
		}
		return key, nil
	}
}

// keyByKID asks keyfunc for the key named by t's kid. keyfunc compares the JWK's alg with the
// header's alg literally, while jwt already maps the RFC 9864 alias Ed25519 to EdDSA (alg): so
// keyfunc gets a copy of the token whose header says EdDSA (the stored JWKs are canonical too).
func (v *Verifier) keyByKID(ctx context.Context, t *jwt.Token, alg string) (any, error) {
	if t.Header["alg"] != alg {
		alias := *t
		alias.Header = maps.Clone(t.Header)
		alias.Header["alg"] = alg
		t = &alias
	}
	return v.keys.kf.KeyfuncCtx(ctx)(t)
}

// keysFor serves tokens without a kid (older Better Auth): every stored key that can verify alg.
// keyfunc would hand over every key whatever its type, so this reads the storage itself.
func (v *Verifier) keysFor(ctx context.Context, alg string) (any, error) {
	candidates := func() []jwt.VerificationKey {
		var out []jwt.VerificationKey
		all, _ := v.keys.storage.KeyReadAll(ctx) // the memory storage never fails
		for _, jwk := range all {
			if jwkFits(jwk, alg) {
				out = append(out, jwk.Key())
			}
		}
		return out
	}
	keys := candidates()
	if len(keys) == 0 {
		v.keys.refreshForUnknown(ctx, v.cfg.JWKSTimeout+time.Second)
		keys = candidates()
	}
	if len(keys) == 0 {
		return nil, v.noKey("the token has no kid and no key in the JWKS can verify " + alg)
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// noKey is the error when no key fits: 503 while no JWKS was ever loaded, unknown_key afterwards.
func (v *Verifier) noKey(what string) *Error {
	if !v.keys.loaded() {
		return unavailable("no signing keys loaded yet: the JWKS has not been reachable since start-up")
	}
	return refuse(ReasonUnknownKey, "%s (keys fetched %s ago); if Better Auth rotated its keys, a refresh is rate-limited, so retry shortly",
		what, ago(v.now().Sub(v.keys.lastFetch())))
}

// explain turns a jwt error into an *Error with a reason and a helpful sentence. The checks run
// in a fixed order, since jwt reports several failures of one token together.
func (v *Verifier) explain(tok *jwt.Token, claims jwt.MapClaims, err error) *Error {
	var own *Error
	switch {
	case errors.As(err, &own):
		return own
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformedToken, "the bearer token is not a compact JWT (three base64url parts with JSON header and payload)")
	}
	if e := v.explainAlgorithm(tok); e != nil {
		return e
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return refuse(ReasonInvalidSignature, "the signature does not verify with the JWKS key; the token was altered or signed by another key")
	}
	if e := v.explainTime(claims, err); e != nil {
		return e
	}
	for _, c := range claimFailures {
		if errors.Is(err, c.err) {
			return refuse(c.reason, "%s", c.message)
		}
	}
	return refuse(ReasonMalformedToken, "the token could not be verified")
}

// explainAlgorithm refuses a token whose alg is unknown or not allowed; nil when it is allowed.
func (v *Verifier) explainAlgorithm(tok *jwt.Token) *Error {
	switch {
	case tok == nil:
		return nil
	case tok.Method == nil:
		if _, ok := tok.Header["alg"].(string); !ok {
			return refuse(ReasonMalformedToken, "the token header has no alg")
		}
		return refuse(ReasonAlgorithmNotAllowed, "the token's algorithm is not one this server knows; allowed: %s", strings.Join(v.cfg.Algorithms, ", "))
	case !slices.Contains(v.cfg.Algorithms, tok.Method.Alg()):
		return refuse(ReasonAlgorithmNotAllowed, "the token is signed with %s; AUTH_ALGORITHMS allows %s",
			knownAlgName(tok.Method.Alg()), strings.Join(v.cfg.Algorithms, ", "))
	}
	return nil
}

// explainTime refuses a token outside its lifetime; nil when err is about something else.
func (v *Verifier) explainTime(claims jwt.MapClaims, err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		if exp, _ := claims.GetExpirationTime(); exp != nil {
			return refuse(ReasonTokenExpired, "token expired %s ago; the frontend should fetch a fresh token", ago(v.now().Sub(exp.Time)))
		}
		return refuse(ReasonTokenExpired, "token expired; the frontend should fetch a fresh token")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(ReasonTokenNotYetValid, "the token is not valid yet (nbf or iat in the future, beyond the %s clock skew allowed); check the clocks", ago(v.cfg.ClockSkew))
	}
	return nil
}

// claimFailures are jwt's claim errors in the order they are tested: ErrTokenInvalidClaims,
// which jwt joins to each of the others, comes last.
var claimFailures = []struct {
	err             error
	reason, message string
}{
	{jwt.ErrTokenRequiredClaimMissing, ReasonMissingClaim, "the token lacks a required claim (exp, iss or aud); Better Auth sets all three"},
	{jwt.ErrTokenInvalidIssuer, ReasonInvalidIssuer, "the token's iss is not the configured issuer (AUTH_ISSUER)"},
	{jwt.ErrTokenInvalidAudience, ReasonInvalidAudience, "the token's aud names none of the configured audiences (AUTH_AUDIENCE)"},
	{jwt.ErrTokenInvalidClaims, ReasonInvalidClaim, "a time claim (exp, iat or nbf) or iss/aud has the wrong type"},
}

// knownAlgName echoes an algorithm name only when it is a registered one, never arbitrary token text.
func knownAlgName(alg string) string {
	if jwt.GetSigningMethod(alg) != nil {
		return alg
	}
	return "an unknown algorithm"
}

// user builds the User of verified claims, resolving sub when the UUID claim is absent.
func (v *Verifier) user(ctx context.Context, claims jwt.MapClaims) (User, error) {
	sub, _ := claims["sub"].(string)
	if _, present := claims["sub"]; present && sub == "" {
		return User{}, refuse(ReasonInvalidClaim, "the sub claim is not a non-empty string")
	}
	u := User{ID: sub}
	if exp, _ := claims.GetExpirationTime(); exp != nil { // required, so present once verified
		u.Expiry = exp.Add(v.cfg.ClockSkew)
	}
	u.Email, _ = claims["email"].(string)
	u.Name, _ = claims["name"].(string)

	if raw, present := claims[v.cfg.UUIDClaim]; present {
		s, _ := raw.(string)
		id, err := uuid.Parse(s)
		if err != nil || id == uuid.Nil {
			return User{}, refuse(ReasonInvalidClaim, "the %s claim is not a UUID; it must be \"user\".uuid, not Better Auth's user id", v.cfg.UUIDClaim)
		}
		u.UUID = id
		return u, nil
	}
	if v.subs == nil {
		return User{}, refuse(ReasonMissingClaim, "the token has no %s claim; add it in Better Auth's jwt.definePayload", v.cfg.UUIDClaim)
	}
	if sub == "" {
		return User{}, refuse(ReasonMissingClaim, "the token has neither a %s claim nor a sub to look the user up by", v.cfg.UUIDClaim)
	}
	id, found, err := v.subs.get(ctx, sub)
	if err != nil {
		return User{}, unavailable("the user lookup by sub failed; try again shortly")
	}
	if !found {
		return User{}, refuse(ReasonUserNotFound, "the token has no %s claim and its sub matches no Better Auth user", v.cfg.UUIDClaim)
	}
	u.UUID = id
	return u, nil
}

// describeKeys is used by diagnostics: a one-line summary of the keys the verifier holds.
func (v *Verifier) describeKeys() string {
	if !v.keys.loaded() {
		return "no keys loaded"
	}
	all, _ := v.keys.storage.KeyReadAll(context.Background())
	return fmt.Sprintf("%d key(s) loaded", len(all))
}
