package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

// Key handling is keyfunc/v3 over a jwkset.MemoryStorage, filled by our own refresher. We do not
// use jwkset's HTTP storage (keyfunc.NewDefault*, jwkset.NewStorageFromHTTP): its constructor
// always makes the first fetch synchronously, a failed first fetch is only retried at the refresh
// interval, one unparsable key fails the whole refresh while an empty set replaces every key, and
// on an unknown kid each reader waits on the limiter (no joining, no "budget spent: answer now")
// with the wait deadline also bounding the refresh. So keyStore fetches the JWKS with a bounded
// http.Client, parses each key with jwkset, drops what we never verify with (use=enc, unsupported
// types, keys that do not parse), treats a set with no usable key as a failed fetch, and swaps the
// rest in with KeyReplaceAll, so a key removed from the JWKS stops being trusted.
// keyfunc.KeyfuncCtx resolves a token's kid in that storage (see Verifier.keyfunc), with our checks
// around it: keyfunc compares a JWK's alg with the token's alg literally (no Ed25519 alias) and
// hands a kid-less token every key whatever its type, so the alias is normalised before keyfunc
// sees the token, key type and curve are checked after it, and Verifier.keysFor serves kid-less
// tokens from the storage with the same type checks.

const maxJWKSBytes = 1 << 20

// Unknown-kid refresh budget: bursts of made-up kids cost Better Auth at most a few fetches.
const (
	unknownKIDEvery = 10 * time.Second
	unknownKIDBurst = 3
)

// keyFits reports whether pub's type and curve can verify a signature made with alg (canonical).
func keyFits(pub any, alg string) bool {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *ecdsa.PublicKey:
		return (alg == "ES256" && pub.Curve == elliptic.P256()) || (alg == "ES512" && pub.Curve == elliptic.P521())
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	}
	return false
}

// jwkFits reports whether a stored JWK can verify alg: its alg (canonical, when it names one) and
// its key type must both fit. Keys marked use=enc never reach the storage.
func jwkFits(jwk jwkset.JWK, alg string) bool {
	if a := string(jwk.Marshal().ALG); a != "" && a != alg {
		return false
	}
	return keyFits(jwk.Key(), alg)
}

// ktyOf names a public key's JWK type, for messages.
func ktyOf(pub any) string {
	switch pub.(type) {
	case ed25519.PublicKey:
		return "OKP"
	case *ecdsa.PublicKey:
		return "EC"
	case *rsa.PublicKey:
		return "RSA"
	}
	return "unsupported"
}

// keyStore holds the keys of the last successful JWKS fetch in a jwkset storage and refreshes them:
// periodically in the background, and on demand (rate-limited) when a token names a kid it lacks.
type keyStore struct {
	url     string
	client  *http.Client
	timeout time.Duration
	every   time.Duration
	onFetch func(error)
	base    context.Context // fetches are detached from requests and end with this context

	storage jwkset.Storage                               // replaced as a whole on each successful fetch
	kf      keyfunc.Keyfunc                              // kid lookups in storage
	fetched atomic.Int64                                 // UnixNano of the last successful fetch; 0 = never
	prints  atomic.Pointer[map[string][sha256.Size]byte] // the stored keys' fingerprints by kid
	limiter *rate.Limiter
	fetches atomic.Int64

	mu       sync.Mutex
	inflight *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

func newKeyStore(ctx context.Context, url string, timeout, every time.Duration, onFetch func(error)) (*keyStore, error) {
	storage := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	if err != nil {
		return nil, fmt.Errorf("auth: keyfunc: %w", err)
	}
	return &keyStore{
		url:     url,
		client:  newJWKSClient(timeout),
		timeout: timeout,
		every:   every,
		onFetch: onFetch,
		base:    ctx,
		storage: storage,
		kf:      kf,
		limiter: rate.NewLimiter(rate.Every(unknownKIDEvery), unknownKIDBurst),
	}, nil
}

// run refreshes until ctx is done: every s.every after a success, with backoff after a failure
// (quickly while no key was ever loaded, so the server becomes ready soon after Better Auth does).
func (s *keyStore) run(ctx context.Context) {
	const firstRetry = 500 * time.Millisecond
	backoff := firstRetry
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait := s.every
		if err := s.refresh(); err != nil {
			limit := min(s.every, 5*time.Minute)
			if !s.loaded() {
				limit = min(s.every, 30*time.Second)
			}
			wait = min(backoff, limit)
			backoff = min(backoff*2, limit)
		} else {
			backoff = firstRetry
		}
		timer.Reset(wait)
	}
}

// refresh fetches the JWKS, or joins the fetch already in flight, and waits for it.
func (s *keyStore) refresh() error {
	call, _ := s.start(false)
	<-call.done
	return call.err
}

// start returns the fetch in flight or starts one. With limited set, a new fetch is only started
// when the unknown-kid budget allows; otherwise started is false and call is nil.
func (s *keyStore) start(limited bool) (call *fetchCall, started bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight, false
	}
	if limited && !s.limiter.Allow() {
		return nil, false
	}
	call = &fetchCall{done: make(chan struct{})}
	s.inflight = call
	go func() {
		call.err = s.fetch()
		s.mu.Lock()
		s.inflight = nil
		s.mu.Unlock()
		close(call.done)
	}()
	return call, true
}

// refreshForUnknown is called when a token names a kid we lack (or carries none we can use): it
// joins a fetch in flight or, budget permitting, starts one, and waits at most until ctx ends.
// It returns at once when the budget is spent.
func (s *keyStore) refreshForUnknown(ctx context.Context, maxWait time.Duration) {
	call, _ := s.start(true)
	if call == nil {
		return
	}
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-call.done:
	case <-ctx.Done():
	case <-timer.C:
	}
}

// fetch loads the JWKS into the storage. A document without a usable key counts as a failed
// fetch: the keys already held stay in place.
func (s *keyStore) fetch() error {
	s.fetches.Add(1)
	ctx, cancel := context.WithTimeout(s.base, s.timeout)
	defer cancel()
	keys, _, err := fetchJWKS(ctx, s.client, s.url)
	if err == nil && len(keys) == 0 {
		err = errors.New("the JWKS holds no usable signing key")
	}
	if err == nil {
		// The token cache's view first: from here on a cached token of a key that is leaving
		// is refused, even before the storage has stopped verifying with that key.
		prints := fingerprints(keys)
		s.prints.Store(&prints)
		err = s.storage.KeyReplaceAll(ctx, keys)
	}
	if err == nil {
		s.fetched.Store(time.Now().UnixNano())
	}
	if s.onFetch != nil {
		s.onFetch(err)
	}
	return err
}

// fingerprints are the stored keys' fingerprints by kid (tokenCache); nil before the first fetch.
func (s *keyStore) fingerprints() map[string][sha256.Size]byte {
	if p := s.prints.Load(); p != nil {
		return *p
	}
	return nil
}

// loaded reports whether any JWKS fetch has succeeded.
func (s *keyStore) loaded() bool { return s.fetched.Load() != 0 }

// lastFetch is when the keys were last fetched successfully (zero when never).
func (s *keyStore) lastFetch() time.Time {
	if n := s.fetched.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// newJWKSClient is the HTTP client of every JWKS fetch: bounded by timeout, and following
// redirects only within the JWKS URL's origin, so that a redirect cannot make another host's keys
// trusted.
func newJWKSClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: sameOriginRedirects}
}

func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if to, from := origin(req.URL), origin(via[0].URL); to != from {
		return fmt.Errorf("the JWKS URL redirects to another origin (%s, not %s), which is never followed; set AUTH_JWKS_URL to where the keys are", to, from)
	}
	return nil
}

// origin is scheme://host:port with the default port spelled out.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// jwksReport is what one fetch found, for verify-jwks.
type jwksReport struct {
	Status   int
	Duration time.Duration
	Keys     []jwkReport
}

type jwkReport struct {
	KID, KTY, CRV, ALG, USE string
	Private                 []string // names of private members present (d, p, q, ...)
	Err                     error    // the key does not parse
	Skip                    string   // parses, but this server will not verify with it (why)
}

var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// fetchJWKS gets and parses a JWKS document. Keys that do not parse, are not of a supported type,
// or are marked use=enc are left out of the result (and described in the report).
func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]jwkset.JWK, jwksReport, error) {
	var rep jwksReport
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, rep, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	rep.Duration = time.Since(start)
	if err != nil {
		return nil, rep, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	rep.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		return nil, rep, fmt.Errorf("fetch JWKS: HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	rep.Duration = time.Since(start)
	if err != nil {
		return nil, rep, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, rep, fmt.Errorf("JWKS is larger than %d bytes", maxJWKSBytes)
	}
	keys, reports, err := parseJWKS(body)
	rep.Keys = reports
	if err != nil {
		return nil, rep, err
	}
	return keys, rep, nil
}

// parseJWKS returns the usable keys in document order (the storage's KeyRead returns the first
// of duplicate kids) and a report per JWK.
func parseJWKS(body []byte) ([]jwkset.JWK, []jwkReport, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JSON object with a keys array: %w", err)
	}
	var keys []jwkset.JWK
	reports := make([]jwkReport, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		jwk, ok, rep := parseJWK(raw)
		reports = append(reports, rep)
		if ok {
			keys = append(keys, jwk)
		}
	}
	return keys, reports, nil
}

// anyAlg returns an algorithm the JWK could serve, to tell signing keys from the rest.
func anyAlg(jwk jwkset.JWK) string {
	for _, a := range supportedAlgorithms {
		if jwkFits(jwk, a) {
			return a
		}
	}
	return ""
}

// parseJWK parses one JWK; ok is false when it is not a key we verify with (rep says why).
func parseJWK(raw json.RawMessage) (jwk jwkset.JWK, ok bool, rep jwkReport) {
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil {
		rep.Err = fmt.Errorf("not a JSON object: %w", err)
		return jwk, false, rep
	}
	str := func(name string) string { s, _ := members[name].(string); return s }
	rep.KID, rep.KTY, rep.CRV, rep.ALG, rep.USE = str("kid"), str("kty"), str("crv"), str("alg"), str("use")
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			rep.Private = append(rep.Private, m)
		}
	}
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.Err = err
		return jwk, false, rep
	}
	if m.ALG != "" {
		a, ok := canonicalAlg(string(m.ALG))
		if !ok {
			rep.Skip = fmt.Sprintf("alg %s is not one of %s", m.ALG, strings.Join(supportedAlgorithms, ", "))
			return jwk, false, rep
		}
		// Stored canonical: jwkset knows EdDSA, not the Ed25519 alias, and keyfunc compares the
		// stored alg with the (normalised) token alg literally.
		m.ALG = jwkset.ALG(a)
	}
	// Only public members are read (Private: false): a JWKS leaking private parts still verifies,
	// and verify-jwks reports the leak.
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
	if err != nil {
		rep.Err = err
		return jwk, false, rep
	}
	switch {
	case m.USE == jwkset.UseEnc:
		// Filtered here, before the storage: keyfunc's UseWhitelist cannot say "absent is fine".
		rep.Skip = "use=enc: an encryption key, never used to verify signatures"
		return jwk, false, rep
	case anyAlg(jwk) == "":
		rep.Skip = fmt.Sprintf("a %s key (%s) cannot verify any of %s", m.KTY, m.CRV, strings.Join(supportedAlgorithms, ", "))
		return jwk, false, rep
	}
	return jwk, true, rep
}
