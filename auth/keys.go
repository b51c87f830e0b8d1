package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"
)

// Why not jwkset's HTTP storage with keyfunc on top: its first fetch blocks the constructor, a
// failed first fetch is only retried at the refresh interval, the unknown-kid limiter's wait
// deadline also bounds the refresh itself, and keyfunc compares a JWK's alg literally (no Ed25519
// alias) and hands every key to a kid-less token whatever its type. So the store below is ours,
// built on jwkset's types: fetch with a bounded http.Client, parse each key with jwkset, and swap
// the whole set atomically so a key removed from the JWKS stops being trusted.

const maxJWKSBytes = 1 << 20

// Unknown-kid refresh budget: bursts of made-up kids cost Better Auth at most a few fetches.
const (
	unknownKIDEvery = 10 * time.Second
	unknownKIDBurst = 3
)

// verificationKey is one public key from the JWKS.
type verificationKey struct {
	kid string
	kty string
	crv string
	alg string // canonical, "" when the JWK names none
	use string
	pub crypto.PublicKey
}

// fits reports whether the key can verify a signature made with alg (canonical name).
func (k *verificationKey) fits(alg string) bool {
	if k.use == string(jwkset.UseEnc) {
		return false
	}
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *ecdsa.PublicKey:
		return (alg == "ES256" && pub.Curve == elliptic.P256()) || (alg == "ES512" && pub.Curve == elliptic.P521())
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	}
	return false
}

// keySet is one successfully fetched JWKS, never modified after it is published.
type keySet struct {
	byKID   map[string]*verificationKey
	all     []*verificationKey
	fetched time.Time
}

// keyStore holds the current keySet and refreshes it: periodically in the background, and on
// demand (rate-limited) when a token names a kid it does not have.
type keyStore struct {
	url     string
	client  *http.Client
	timeout time.Duration
	every   time.Duration
	onFetch func(error)
	base    context.Context // fetches are detached from requests and end with this context

	current atomic.Pointer[keySet]
	limiter *rate.Limiter
	fetches atomic.Int64

	mu       sync.Mutex
	inflight *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

func newKeyStore(ctx context.Context, url string, timeout, every time.Duration, onFetch func(error)) *keyStore {
	return &keyStore{
		url:     url,
		client:  &http.Client{Timeout: timeout},
		timeout: timeout,
		every:   every,
		onFetch: onFetch,
		base:    ctx,
		limiter: rate.NewLimiter(rate.Every(unknownKIDEvery), unknownKIDBurst),
	}
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
			if s.current.Load() == nil {
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

func (s *keyStore) fetch() error {
	s.fetches.Add(1)
	ctx, cancel := context.WithTimeout(s.base, s.timeout)
	defer cancel()
	set, _, err := fetchJWKS(ctx, s.client, s.url)
	if err == nil && len(set.all) == 0 {
		err = errors.New("the JWKS holds no usable signing key")
	}
	if err == nil {
		s.current.Store(set)
	}
	if s.onFetch != nil {
		s.onFetch(err)
	}
	return err
}

// loaded reports whether any JWKS fetch has succeeded.
func (s *keyStore) loaded() bool { return s.current.Load() != nil }

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
// or are marked use=enc are left out of the set (and described in the report).
func fetchJWKS(ctx context.Context, client *http.Client, url string) (*keySet, jwksReport, error) {
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
	set, keys, err := parseJWKS(body)
	rep.Keys = keys
	if err != nil {
		return nil, rep, err
	}
	return set, rep, nil
}

func parseJWKS(body []byte) (*keySet, []jwkReport, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not a JSON object with a keys array: %w", err)
	}
	set := &keySet{byKID: make(map[string]*verificationKey), fetched: time.Now()}
	reports := make([]jwkReport, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		k, rep := parseJWK(raw)
		reports = append(reports, rep)
		if k == nil {
			continue
		}
		set.all = append(set.all, k)
		if k.kid != "" {
			if _, dup := set.byKID[k.kid]; !dup {
				set.byKID[k.kid] = k
			}
		}
	}
	return set, reports, nil
}

// anyAlg returns an algorithm the key could serve, to tell signing keys from the rest.
func (k *verificationKey) anyAlg() string {
	if k.alg != "" {
		return k.alg
	}
	for _, a := range supportedAlgorithms {
		if k.fits(a) {
			return a
		}
	}
	return ""
}

func parseJWK(raw json.RawMessage) (*verificationKey, jwkReport) {
	var rep jwkReport
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil {
		rep.Err = fmt.Errorf("not a JSON object: %w", err)
		return nil, rep
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
		return nil, rep
	}
	alg := ""
	if m.ALG != "" {
		a, ok := canonicalAlg(string(m.ALG))
		if !ok {
			rep.Skip = fmt.Sprintf("alg %s is not one of %s", m.ALG, strings.Join(supportedAlgorithms, ", "))
			return nil, rep
		}
		alg = a
		m.ALG = jwkset.ALG(a) // jwkset knows EdDSA, not the Ed25519 alias
	}
	// Only public members are read (Private: false): a JWKS leaking private parts still verifies,
	// and verify-jwks reports the leak.
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipMetadata: true})
	if err != nil {
		rep.Err = err
		return nil, rep
	}
	k := &verificationKey{kid: m.KID, kty: string(m.KTY), crv: string(m.CRV), alg: alg, use: string(m.USE), pub: jwk.Key()}
	switch {
	case k.use == string(jwkset.UseEnc):
		rep.Skip = "use=enc: an encryption key, never used to verify signatures"
		return nil, rep
	case k.anyAlg() == "":
		rep.Skip = fmt.Sprintf("a %s key (%s) cannot verify any of %s", m.KTY, m.CRV, strings.Join(supportedAlgorithms, ", "))
		return nil, rep
	}
	return k, rep
}
