package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskgraph/taskgraph/internal/testkit"
)

// liveClusterSettings are appended to the live rows' private cluster's postgresql.conf.
// shared_buffers and max_wal_size are the shared cluster's; connections cover 32 pgbench
// writers, the servers' pools and the feeds.
var liveClusterSettings = []string{
	"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 10",
	"max_connections = 200", "shared_buffers = 128MB", "max_wal_size = 1GB",
}

// startLiveCluster starts a private PostgreSQL cluster with wal_level=logical for the live rows
// (subscribe, create-live, writers): the shared cluster runs wal_level=replica and is never
// reconfigured, and issue 19's targets are about the logical feed. Durability is the default's
// (fsync, synchronous_commit and full_page_writes on), as on the shared cluster, so writers pay
// for their commits as they would in production. The cluster is testkit's (initdb and pg_ctl in
// a temporary directory, as the postgres user when the bench runs as root); Close stops and
// removes it.
func startLiveCluster(ctx context.Context) (*testkit.Postgres, error) {
	c, err := testkit.NewPostgres(ctx, testkit.ClusterOptions{
		Durable: true, Settings: liveClusterSettings, Env: baseEnv(), DirPrefix: "taskgraph-bench-pg-",
	})
	if errors.Is(err, testkit.ErrNoPostgres) {
		return nil, fmt.Errorf("%w, or set BENCH_LIVE_PG_URL to a cluster with wal_level=logical", err)
	}
	return c, err
}
