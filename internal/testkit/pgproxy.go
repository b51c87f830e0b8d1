package testkit

import (
	"net/url"
	"testing"

	"github.com/taskgraph/taskgraph/internal/pgwire"
)

// NewProxiedDBURL creates a fresh, fully migrated database like NewDBURL and returns a URL that
// reaches it through a recording pgwire.Proxy (closed when the test ends), so that a test can
// count the round trips and statements of an operation:
//
//	dbURL, proxy := testkit.NewProxiedDBURL(t)
//	... open the pool on dbURL, warm it up ...
//	proxy.Reset(); doTheOperation(); proxy.WaitIdle(ctx)
//	if rt := proxy.Snapshot().RoundTrips; rt > 3 { t.Fatalf(...) }
func NewProxiedDBURL(t testing.TB) (string, *pgwire.Proxy) {
	t.Helper()
	return ProxyDBURL(t, NewDBURL(t))
}

// ProxyDBURL is a URL that reaches the database at direct through a new recording pgwire.Proxy
// (closed when the test ends): a server given it for DATABASE_URL, and direct for
// DATABASE_LISTEN_URL, has its pool's statements recorded.
func ProxyDBURL(t testing.TB, direct string) (string, *pgwire.Proxy) {
	t.Helper()
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	p, err := pgwire.Listen(u.Host)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	proxied, err := p.RewriteURL(direct)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return proxied, p
}
