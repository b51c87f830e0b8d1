package main

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/taskgraph/taskgraph/internal/connlimit"
)

// Connection caps (README.md, Limits): MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP, TRUSTED_PROXIES.
const (
	// maxConnectionsCeiling caps the derived default: at about 40 KB a socket, 10,000 connections
	// are 400 MB, the most a default server should give to connections.
	maxConnectionsCeiling = 10000
	// fdHeadroom is kept below the open-file limit besides the database pool: the listener, the
	// live-updates listener's connection, the JWKS fetch, log files, health checks.
	fdHeadroom = 64
	// defaultConnectionsPerIP is MAX_CONNECTIONS_PER_IP's default: a browser holds a handful of
	// connections per tab; an office behind one NAT address, a few hundred.
	defaultConnectionsPerIP = 512
)

// openFileLimit is the process's RLIMIT_NOFILE (Go raises the soft limit to the hard one at start).
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 30
	}
	return int(rl.Cur)
}

// defaultMaxConnections leaves fdHeadroom and the pool's sessions of the open-file limit.
func defaultMaxConnections(nofile, dbConns int) int {
	n := nofile - dbConns - fdHeadroom
	if n > maxConnectionsCeiling {
		n = maxConnectionsCeiling
	}
	if n < 16 {
		n = 16
	}
	return n
}

// connections reads MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP and TRUSTED_PROXIES.
func (e environment) connections(dbConns int) (connlimit.Config, error) {
	nofile := openFileLimit()
	var c connlimit.Config
	var err error
	if c.Max, err = e.positive("MAX_CONNECTIONS", defaultMaxConnections(nofile, dbConns)); err != nil {
		return c, err
	}
	if c.Max > nofile-dbConns-fdHeadroom/2 {
		return c, fmt.Errorf("MAX_CONNECTIONS: %d leaves too few of the %d open files this process may have for PostgreSQL and the rest; raise the limit (ulimit -n) or lower it", c.Max, nofile)
	}
	if c.PerIP, err = e.positive("MAX_CONNECTIONS_PER_IP", defaultConnectionsPerIP); err != nil {
		return c, err
	}
	c.Trusted, err = trustedProxies(e("TRUSTED_PROXIES"))
	return c, err
}

// trustedProxies parses a comma-separated list of addresses and CIDR prefixes.
func trustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or a CIDR prefix (e.g. 10.0.0.0/8)", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
