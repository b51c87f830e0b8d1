package live

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/taskgraph/taskgraph/db"
)

// The logical feed's stream (logical.go opens it): pgoutput's messages, decoded into each
// committed transaction's changes, in commit order.

// stream decodes the replication stream until it fails, goes silent or the hub closes.
func (h *Hub) stream(r *replicator) error {
	now := time.Now()
	st := &streamState{
		confirmed: r.start, heard: now, nextStatus: now,
		rels: map[uint32]*pglogrepl.RelationMessage{},
	}
	for {
		data, err := h.receiveData(r, st)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			continue
		}
		if err := h.handleData(st, data); err != nil {
			return err
		}
	}
}

// streamState is what stream carries from one message to the next.
type streamState struct {
	heard      time.Time     // when anything last arrived
	nextStatus time.Time     // when the standby status is due
	confirmed  pglogrepl.LSN // what we have handled: the slot may release the WAL before it
	rels       map[uint32]*pglogrepl.RelationMessage
	// The transaction being decoded.
	inTxn    bool
	xid      uint32
	rows     []db.RowChange
	barriers []string
}

// receiveData sends the standby status when it is due and waits for the next message, until
// the status is due again; it returns the message's CopyData (none: nothing, or another message).
func (h *Hub) receiveData(r *replicator, st *streamState) ([]byte, error) {
	if h.ctx.Err() != nil {
		return nil, h.ctx.Err()
	}
	now := time.Now()
	if !now.Before(st.nextStatus) {
		err := pglogrepl.SendStandbyStatusUpdate(h.ctx, r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: st.confirmed, ReplyRequested: true})
		if err != nil {
			return nil, fmt.Errorf("standby status: %w", err)
		}
		st.nextStatus = now.Add(h.cfg.FeedTimeout / 3)
	}
	deadline := st.heard.Add(h.cfg.FeedTimeout)
	if deadline.Before(now) {
		return nil, errSilent
	}
	ctx, cancel := context.WithDeadline(h.ctx, minTime(deadline, st.nextStatus))
	raw, err := r.conn.ReceiveMessage(ctx)
	cancel()
	if err != nil {
		if pgconn.Timeout(err) && h.ctx.Err() == nil {
			return nil, nil
		}
		return nil, err
	}
	st.heard = time.Now()
	switch m := raw.(type) {
	case *pgproto3.CopyData:
		return m.Data, nil
	case *pgproto3.ErrorResponse:
		return nil, pgconn.ErrorResponseToPgError(m)
	}
	return nil, nil
}

// handleData handles one CopyData: a keepalive, or a change of the WAL.
func (h *Hub) handleData(st *streamState, data []byte) error {
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return err
		}
		if !st.inTxn && k.ServerWALEnd > st.confirmed {
			st.confirmed = k.ServerWALEnd // decoding has passed it: nothing of ours before it is left
		}
		if k.ReplyRequested {
			st.nextStatus = time.Now()
		}
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return err
		}
		msg, err := pglogrepl.Parse(x.WALData)
		if err != nil {
			return err
		}
		h.decoded(st, msg)
	}
	return nil
}

// decoded takes one decoded message of the publication.
func (h *Hub) decoded(st *streamState, msg pglogrepl.Message) {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		st.rels[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		st.inTxn, st.xid, st.rows, st.barriers = true, m.Xid, st.rows[:0], st.barriers[:0]
	case *pglogrepl.InsertMessage:
		st.rows = appendRow(st.rows, st.rels[m.RelationID], db.OpCreated, m.Tuple)
	case *pglogrepl.UpdateMessage:
		st.rows = appendRow(st.rows, st.rels[m.RelationID], db.OpUpdated, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		st.rows = appendRow(st.rows, st.rels[m.RelationID], db.OpDeleted, m.OldTuple)
	case *pglogrepl.TruncateMessage:
		// Which rows went is not in the stream: every subscriber must refetch.
		h.log.Warn("live: a published table was truncated; open subscriptions end with EVENTS_LOST")
		h.endAll(nil, func(*Subscription) error { return ErrEventsLost })
	case *pglogrepl.LogicalDecodingMessage:
		if m.Prefix == db.BarrierPrefix {
			st.barriers = append(st.barriers, string(m.Content))
		}
	case *pglogrepl.CommitMessage:
		h.committed(st, m)
	}
}

// committed hands the transaction's changes over and passes its barriers.
func (h *Hub) committed(st *streamState, m *pglogrepl.CommitMessage) {
	st.inTxn = false
	end := uint64(m.TransactionEndLSN)
	if len(st.rows) > 0 {
		h.receive(logicalEpoch, end, st.xid, db.TxnChanges(st.rows, m.CommitTime))
	}
	for _, b := range st.barriers {
		h.barrierSeen(b, after(logicalEpoch, end))
	}
	st.confirmed = m.TransactionEndLSN
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
