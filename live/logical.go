package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

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

// stream decodes the replication stream until it fails, goes silent or the hub closes.
func (h *Hub) stream(r *replicator) error {
	every := h.cfg.FeedTimeout / 3
	heard := time.Now()
	nextStatus := time.Now()
	confirmed := r.start // what we have handled: the slot may release the WAL before it
	rels := map[uint32]*pglogrepl.RelationMessage{}
	var (
		inTxn    bool
		xid      uint32
		rows     []db.RowChange
		barriers []string
	)
	for {
		if h.ctx.Err() != nil {
			return h.ctx.Err()
		}
		now := time.Now()
		if !now.Before(nextStatus) {
			err := pglogrepl.SendStandbyStatusUpdate(h.ctx, r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: confirmed, ReplyRequested: true})
			if err != nil {
				return fmt.Errorf("standby status: %w", err)
			}
			nextStatus = now.Add(every)
		}
		deadline := heard.Add(h.cfg.FeedTimeout)
		if deadline.Before(now) {
			return errSilent
		}
		ctx, cancel := context.WithDeadline(h.ctx, minTime(deadline, nextStatus))
		raw, err := r.conn.ReceiveMessage(ctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && h.ctx.Err() == nil {
				continue
			}
			return err
		}
		heard = time.Now()
		var data []byte
		switch m := raw.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(m)
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return err
			}
			if !inTxn && k.ServerWALEnd > confirmed {
				confirmed = k.ServerWALEnd // decoding has passed it: nothing of ours before it is left
			}
			if k.ReplyRequested {
				nextStatus = time.Now()
			}
			continue
		case pglogrepl.XLogDataByteID:
		default:
			continue
		}
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return err
		}
		msg, err := pglogrepl.Parse(x.WALData)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			rels[m.RelationID] = m
		case *pglogrepl.BeginMessage:
			inTxn, xid, rows, barriers = true, m.Xid, rows[:0], barriers[:0]
		case *pglogrepl.InsertMessage:
			rows = appendRow(rows, rels[m.RelationID], db.OpCreated, m.Tuple)
		case *pglogrepl.UpdateMessage:
			rows = appendRow(rows, rels[m.RelationID], db.OpUpdated, m.NewTuple)
		case *pglogrepl.DeleteMessage:
			rows = appendRow(rows, rels[m.RelationID], db.OpDeleted, m.OldTuple)
		case *pglogrepl.TruncateMessage:
			// Which rows went is not in the stream: every subscriber must refetch.
			h.log.Warn("live: a published table was truncated; open subscriptions end with EVENTS_LOST")
			h.endAll(nil, func(*Subscription) error { return ErrEventsLost })
		case *pglogrepl.LogicalDecodingMessage:
			if m.Prefix == db.BarrierPrefix {
				barriers = append(barriers, string(m.Content))
			}
		case *pglogrepl.CommitMessage:
			inTxn = false
			end := uint64(m.TransactionEndLSN)
			if len(rows) > 0 {
				h.receive(logicalEpoch, end, xid, db.TxnChanges(rows, m.CommitTime))
			}
			for _, b := range barriers {
				h.barrierSeen(b, after(logicalEpoch, end))
			}
			confirmed = m.TransactionEndLSN
		}
	}
}

// appendRow decodes the columns the feed needs of one changed row.
func appendRow(rows []db.RowChange, rel *pglogrepl.RelationMessage, op db.ChangeOp, t *pglogrepl.TupleData) []db.RowChange {
	if rel == nil || t == nil {
		return rows
	}
	cols := make(map[string]string, 4)
	whole := len(t.Columns) == len(rel.Columns)
	for i, c := range t.Columns {
		if c.DataType != pglogrepl.TupleDataTypeText && c.DataType != pglogrepl.TupleDataTypeNull {
			whole = false // an unchanged TOAST value is not sent: such a row must be read
		}
		if i >= len(rel.Columns) || c.DataType != pglogrepl.TupleDataTypeText {
			continue
		}
		switch name := rel.Columns[i].Name; name {
		case "user_uuid", "id", "task_id", "updated_at", "created_at", "name", "color":
			cols[name] = string(c.Data)
		}
	}
	return append(rows, db.RowChange{Table: rel.RelationName, Op: op, Cols: cols, Whole: whole})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
