package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskgraph/taskgraph/db"
)

// FeedKind is where a hub's changes come from (LIVE_FEED).
type FeedKind string

const (
	// FeedAuto: logical replication where the cluster allows it, else the NOTIFY fallback.
	FeedAuto FeedKind = "auto"
	// FeedLogical: the WAL, decoded with pgoutput from the publication db.Publication through a
	// temporary replication slot of this replica: writers send nothing.
	FeedLogical FeedKind = "logical"
	// FeedNotify: every write transaction ends with pg_notify, which serialises the commits of
	// all notifying transactions on one cluster-wide lock.
	FeedNotify FeedKind = "notify"
)

// SwitchHint is what an operator changes to leave the NOTIFY fallback.
const SwitchHint = "set wal_level = logical in postgresql.conf and restart PostgreSQL (and give the DATABASE_LISTEN_URL user REPLICATION): live updates then read the WAL and writers' transactions send no NOTIFY"

// Start connects the change feed to listenURL (a direct connection, not through a
// transaction-mode pooler) and starts the workers. With Config.Feed FeedAuto it reads the WAL
// when wal_level is logical, the publication exists and the user may replicate, else it falls
// back to NOTIFY and says why. It fails when the first connection fails; afterwards the feed
// reconnects by itself. Call Feed to learn which feed runs: writers must send NOTIFY
// (db.Store.LogicalFeed false) unless it is FeedLogical.
func (h *Hub) Start(ctx context.Context, listenURL string) error {
	kind, reason, err := h.chooseFeed(ctx, listenURL)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.feed.kind, h.feed.reason = kind, reason
	h.mu.Unlock()
	if kind == FeedLogical {
		err = h.startLogical(ctx, listenURL)
	} else {
		err = h.startNotify(ctx, listenURL)
	}
	if err != nil {
		return err
	}
	h.log.Info("live: change feed", "feed", kind, "why", reason)
	if kind == FeedNotify {
		h.log.Info("live: to take NOTIFY out of writers' transactions, " + SwitchHint)
	}
	for range h.cfg.Workers {
		h.wg.Add(1)
		go h.worker()
	}
	h.wg.Add(1)
	go h.keepAlive()
	return nil
}

// ProbeFeed says which feed Start would choose on listenURL under LIVE_FEED=auto, and why (for
// doctor). err: the connection itself failed.
func ProbeFeed(ctx context.Context, listenURL string) (FeedKind, string, error) {
	h := &Hub{cfg: Config{Feed: FeedAuto}.withDefaults()}
	return h.chooseFeed(ctx, listenURL)
}

// chooseFeed decides between the logical feed and the NOTIFY fallback.
func (h *Hub) chooseFeed(ctx context.Context, listenURL string) (FeedKind, string, error) {
	if h.cfg.Feed == FeedNotify {
		return FeedNotify, "LIVE_FEED=notify", nil
	}
	why, err := logicalPossible(ctx, listenURL, h.cfg.FeedTimeout)
	switch {
	case err != nil && h.cfg.Feed == FeedLogical:
		return "", "", fmt.Errorf("DATABASE_LISTEN_URL: LIVE_FEED=logical: %w", err)
	case err != nil && why == "":
		return "", "", fmt.Errorf("DATABASE_LISTEN_URL: cannot connect: %w", err)
	case err != nil:
		return FeedNotify, why, nil
	}
	return FeedLogical, why, nil
}

// logicalPossible checks, on a replication connection, that the logical feed can run. When it
// cannot, why says so (an error with an empty why: the connection itself failed).
func logicalPossible(ctx context.Context, listenURL string, timeout time.Duration) (why string, err error) {
	conn, err := replicationConn(ctx, listenURL, timeout)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return "the DATABASE_LISTEN_URL user may not open a replication connection (it needs REPLICATION)", err
		}
		if plain, perr := plainConnCheck(ctx, listenURL, timeout); perr == nil {
			return "no replication connection: " + plain + err.Error(), err
		}
		return "", err
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := conn.Exec(ctx, `SELECT current_setting('wal_level'), EXISTS (SELECT FROM pg_publication WHERE pubname = '`+db.Publication+`')`).ReadAll()
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || len(rows[0].Rows) != 1 {
		return "", errors.New("live: unexpected answer to the wal_level check")
	}
	level, pub := string(rows[0].Rows[0][0]), string(rows[0].Rows[0][1])
	switch {
	case level != "logical":
		return "wal_level=" + level, errors.New("wal_level is " + level + ", not logical")
	case pub != "t":
		return "publication " + db.Publication + " missing (the migrations could not create it)", errors.New("no publication " + db.Publication)
	}
	return "wal_level=logical, publication " + db.Publication + ", a temporary slot per replica", nil
}

// pgConfig parses listenURL for pgconn, without lib/pq's own parameters (pgconn would send
// them to the server as settings).
func pgConfig(listenURL string, timeout time.Duration) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(listenURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_LISTEN_URL: %w", err)
	}
	for _, k := range []string{"binary_parameters", "disable_prepared_binary_result"} {
		delete(cfg.RuntimeParams, k)
	}
	cfg.ConnectTimeout = timeout
	return cfg, nil
}

// plainConnCheck connects without replication, to tell a refused replication connection (the
// fallback) from an unreachable server (a start-up failure).
func plainConnCheck(ctx context.Context, listenURL string, timeout time.Duration) (string, error) {
	cfg, err := pgConfig(listenURL, timeout)
	if err != nil {
		return "", err
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	_ = conn.Close(ctx)
	return "", nil
}

// replicationConn opens a logical replication connection (replication=database) to listenURL.
func replicationConn(ctx context.Context, listenURL string, timeout time.Duration) (*pgconn.PgConn, error) {
	cfg, err := pgConfig(listenURL, timeout)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	return pgconn.ConnectConfig(ctx, cfg)
}

// Close stops the feed and the workers (Shutdown first, for a graceful end). It never waits on
// the feed's connection: one that has gone silent is abandoned.
func (h *Hub) Close() {
	h.mu.Lock()
	l := h.listener
	h.listener = nil
	h.stopped = true
	h.work.Broadcast()
	h.mu.Unlock()
	h.cancel()
	if l != nil {
		go func() { _ = l.Close() }() // pq's Close waits for a Ping stuck on a silent connection
	}
	h.wg.Wait()
}
