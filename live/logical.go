package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskgraph/taskgraph/db"
)

// The logical feed: each replica opens a replication connection on DATABASE_LISTEN_URL, creates
// a TEMPORARY slot (dropped by PostgreSQL when that connection ends, however it ends, so a dead
// replica retains no WAL beyond wal_sender_timeout) and decodes the publication with pgoutput.
// Writers send nothing: the changes come from the WAL, in commit order, each with its commit's
// WAL position (the cursor, the same on every replica).
//
// Silence: every FeedTimeout/3 the feed sends its standby status asking for a reply; a connection
// from which nothing at all arrives for FeedTimeout is taken for dead: every subscriber is told,
// the connection is closed (never waited on) and a new slot is made.

// startLogical makes the first connection and slot; it fails when they cannot be made.
func (h *Hub) startLogical(ctx context.Context, listenURL string) error {
	r, err := h.openLogical(ctx, listenURL)
	if err != nil {
		return fmt.Errorf("DATABASE_LISTEN_URL: logical replication: %w", err)
	}
	h.wg.Add(1)
	go h.runLogical(listenURL, r)
	return nil
}

// replicator is one replication connection streaming from its temporary slot.
type replicator struct {
	conn  *pgconn.PgConn
	slot  string
	start pglogrepl.LSN
}

func (h *Hub) openLogical(ctx context.Context, listenURL string) (*replicator, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FeedTimeout)
	defer cancel()
	conn, err := replicationConn(ctx, listenURL, h.cfg.FeedTimeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*replicator, error) {
		_ = conn.Conn().Close()
		return nil, err
	}
	// START_REPLICATION would succeed without the publication and fail at the first change: ask.
	rows, err := conn.Exec(ctx, `SELECT EXISTS (SELECT FROM pg_publication WHERE pubname = '`+db.Publication+`')`).ReadAll()
	if err != nil {
		return fail(err)
	}
	if len(rows) != 1 || len(rows[0].Rows) != 1 || string(rows[0].Rows[0][0]) != "t" {
		return fail(fmt.Errorf("publication %s does not exist (run the migrations as a user that may create it)", db.Publication))
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	slot := "taskgraph_" + hex.EncodeToString(b[:])
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Temporary: true, SnapshotAction: "NOEXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication,
	})
	if err != nil {
		return fail(fmt.Errorf("create slot: %w", err))
	}
	start, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fail(err)
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + db.Publication + "'", "messages 'true'"},
	})
	if err != nil {
		return fail(fmt.Errorf("start replication: %w", err))
	}
	h.feedUp(logicalEpoch, after(logicalEpoch, uint64(start)))
	return &replicator{conn: conn, slot: slot, start: start}, nil
}

// runLogical streams until Close, reconnecting (a new slot, a new start) after each loss.
func (h *Hub) runLogical(listenURL string, r *replicator) {
	defer h.wg.Done()
	backoff := minReconnect
	for {
		err := h.stream(r)
		_ = r.conn.Conn().Close() // no goodbye: the peer may be silent
		if h.ctx.Err() != nil {
			return
		}
		h.feedDown(err)
		for {
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxReconnect)
			r, err = h.openLogical(h.ctx, listenURL)
			if err == nil {
				break
			}
			h.mu.Lock()
			h.feed.err = err.Error()
			h.mu.Unlock()
			h.log.Warn("live: the logical feed cannot reconnect yet", "err", err)
		}
		h.log.Info("live: the logical feed reconnected", "slot", r.slot)
		if h.hooks.ListenerReconnected != nil {
			h.hooks.ListenerReconnected()
		}
		backoff = minReconnect
	}
}
