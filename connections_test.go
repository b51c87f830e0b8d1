package main

import (
	"strings"
	"testing"
)

func TestMaxConnectionsDefaultKeepsHeadroom(t *testing.T) {
	for _, c := range []struct{ nofile, db, want int }{
		{20000, 8, maxConnectionsCeiling},
		{1024, 8, 1024 - 8 - fdHeadroom},
		{50, 8, 16},
	} {
		if got := defaultMaxConnections(c.nofile, c.db); got != c.want {
			t.Errorf("defaultMaxConnections(%d, %d) = %d, want %d", c.nofile, c.db, got, c.want)
		}
	}
}

func TestConnectionSettings(t *testing.T) {
	c, err := environment(env(map[string]string{"MAX_CONNECTIONS": "100", "MAX_CONNECTIONS_PER_IP": "7", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1,::1"})).connections(8)
	if err != nil || c.Max != 100 || c.PerIP != 7 || len(c.Trusted) != 3 || c.Trusted[1].String() != "192.168.1.1/32" {
		t.Fatalf("%+v %v", c, err)
	}
	for key, v := range map[string]string{"MAX_CONNECTIONS": "0", "MAX_CONNECTIONS_PER_IP": "x", "TRUSTED_PROXIES": "10.0.0.0/99", "OPERATIONS_PER_USER": "-1", "SOCKETS_PER_USER": "none", "METRICS_OPERATIONS": "Me,not a name"} {
		_, err := environment(env(map[string]string{"BETTER_AUTH_URL": "http://localhost:3000", key: v})).serve()
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: %v, want an error naming it", key, v, err)
		}
	}
	if _, err := environment(env(map[string]string{"MAX_CONNECTIONS": "2000000000"})).connections(8); err == nil || !strings.Contains(err.Error(), "open files") {
		t.Errorf("a MAX_CONNECTIONS over the open-file limit: %v", err)
	}
	cfg, err := environment(env(map[string]string{"BETTER_AUTH_URL": "http://localhost:3000"})).serve()
	if err != nil || cfg.MetricsPublic || cfg.Limits.OperationsPerUser < 2 || cfg.Live.SocketsPerUser != 20 || cfg.Conns.Max == 0 || cfg.Conns.PerIP != defaultConnectionsPerIP {
		t.Errorf("serve's defaults: %+v %v", cfg, err)
	}
}
