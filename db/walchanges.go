package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Publication is the logical-replication publication the migrations create on tasks, tags and
// task_tags: what package live decodes when wal_level = logical.
const Publication = "taskgraph_live"

// RowChange is one row of a published table as a committed transaction changed it, decoded from
// the WAL: its table, how (OpCreated for an INSERT, OpUpdated, OpDeleted), and its columns as
// text (a DELETE carries the key columns only).
type RowChange struct {
	Table string
	Op    ChangeOp
	Cols  map[string]string
	// Whole: every column came with the row (none was an unchanged TOAST value), so a column
	// missing from Cols is NULL.
	Whole bool
}

// TxnChanges turns the row changes of one committed transaction, in WAL order, into the
// notifications the write methods send in the NOTIFY fallback (notify), so both feeds tell
// subscribers the same thing: tasks and tags created, updated and deleted, and a task whose tags
// changed (task_tags) as updated unless the same transaction created or deleted it. A row changed
// twice counts once (created wins over updated, deleted over both). at is the time the transaction
// wrote on its rows (a task's updated_at, a tag's created_at), else commit. A created or updated
// tag whose row came whole comes with its values (Notification.Tags), the last the transaction
// wrote; a task's do not, since its tags' names are not among the transaction's rows.
func TxnChanges(rows []RowChange, commit time.Time) []Notification {
	cs := changeSet{index: map[changeKey]int{}, at: commit.UTC(), tags: map[changeKey]ownedTag{}}
	for _, r := range rows {
		cs.row(r)
	}
	return cs.notifications()
}

// changeKey is one changed task or tag.
type changeKey struct {
	kind ChangeKind
	id   uuid.UUID
}

// changedRow is what a transaction did to one task or tag of a user, all its row changes merged.
type changedRow struct {
	user uuid.UUID
	key  changeKey
	op   ChangeOp
}

// ownedTag is a tag's values as a transaction wrote them, and its user.
type ownedTag struct {
	user uuid.UUID
	tag  Tag
}

// changeSet gathers TxnChanges' rows: each task and tag changed, in the order first changed.
type changeSet struct {
	items []changedRow
	index map[changeKey]int // position in items
	at    time.Time         // the transaction's time: the last the rows showed, else commit
	tags  map[changeKey]ownedTag
}

// row takes one row change of the transaction.
func (cs *changeSet) row(r RowChange) {
	user := parseID(r.Cols["user_uuid"])
	if user == uuid.Nil {
		return
	}
	switch r.Table {
	case "tasks":
		if ts, ok := r.Cols["updated_at"]; ok && r.Op != OpDeleted {
			cs.clock(ts)
		}
		cs.add(user, changeKey{KindTask, parseID(r.Cols["id"])}, r.Op)
	case "tags":
		cs.tag(user, r)
	case "task_tags":
		k := changeKey{KindTask, parseID(r.Cols["task_id"])}
		if _, ok := cs.index[k]; !ok {
			cs.add(user, k, OpUpdated)
		}
	}
}

// tag takes a change of a tags row, keeping its values when it came whole (tagOf).
func (cs *changeSet) tag(user uuid.UUID, r RowChange) {
	if ts, ok := r.Cols["created_at"]; ok && r.Op == OpCreated {
		cs.clock(ts)
	}
	k := changeKey{KindTag, parseID(r.Cols["id"])}
	cs.add(user, k, r.Op)
	if t, ok := tagOf(r); ok {
		cs.tags[k] = ownedTag{user, t}
	} else {
		delete(cs.tags, k)
	}
}

// clock moves the transaction's time to ts, a timestamp it wrote, when ts parses.
func (cs *changeSet) clock(ts string) {
	if t, err := parseTimestamptz(ts); err == nil {
		cs.at = t
	}
}

// add records op on k: a row changed twice counts once, created winning over updated, deleted
// over both.
func (cs *changeSet) add(user uuid.UUID, k changeKey, op ChangeOp) {
	i, ok := cs.index[k]
	if !ok {
		cs.index[k] = len(cs.items)
		cs.items = append(cs.items, changedRow{user, k, op})
		return
	}
	switch {
	case op == OpDeleted:
		cs.items[i].op = OpDeleted
	case cs.items[i].op == OpUpdated && op == OpCreated:
		cs.items[i].op = OpCreated
	}
}

// notifications are the changes as notify sends them: consecutive items of one user, kind and op
// share a notification, as notify's changes do.
func (cs *changeSet) notifications() []Notification {
	var out []Notification
	for _, it := range cs.items {
		if it.key.id == uuid.Nil {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.User == it.user && last.Kind == it.key.kind && last.Op == it.op {
				last.IDs = append(last.IDs, it.key.id)
				continue
			}
		}
		out = append(out, Notification{User: it.user, Kind: it.key.kind, Op: it.op, IDs: []uuid.UUID{it.key.id}})
	}
	for i := range out {
		out[i].At = cs.at
		cs.attachTags(&out[i])
	}
	return out
}

// attachTags gives a notification of created or updated tags the values of those that came whole.
func (cs *changeSet) attachTags(n *Notification) {
	if n.Kind != KindTag || n.Op == OpDeleted {
		return
	}
	for _, id := range n.IDs {
		if o, ok := cs.tags[changeKey{KindTag, id}]; ok && o.user == n.User {
			if n.Tags == nil {
				n.Tags = map[uuid.UUID]Tag{}
			}
			n.Tags[id] = o.tag
		}
	}
}

// parseID reads a uuid column; uuid.Nil when it is missing or malformed.
func parseID(s string) uuid.UUID {
	id, _ := uuid.Parse(s)
	return id
}

// tagOf is a created or updated tags row as a Tag, when it came whole.
func tagOf(r RowChange) (Tag, bool) {
	if r.Op == OpDeleted || !r.Whole {
		return Tag{}, false
	}
	id, err := uuid.Parse(r.Cols["id"])
	name, named := r.Cols["name"]
	created, err2 := parseTimestamptz(r.Cols["created_at"])
	if err != nil || !named || err2 != nil {
		return Tag{}, false
	}
	t := Tag{ID: id, Name: name, CreatedAt: created}
	if c, ok := r.Cols["color"]; ok {
		t.Color = &c
	}
	return t, true
}

// parseTimestamptz reads a timestamptz in PostgreSQL's text output (ISO, any session time zone).
func parseTimestamptz(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999-07:00:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Parse(time.RFC3339Nano, s)
}

// WALInsertLSN is PostgreSQL's WAL insert position: every transaction that has committed (in
// particular every acknowledged one) ends at or before it, every later commit after it. It is
// where a live subscription starts.
func (s *Store) WALInsertLSN(ctx context.Context) (uint64, error) {
	var lsn int64
	if err := s.x.QueryRowxContext(ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8`).Scan(&lsn); err != nil {
		return 0, fmt.Errorf("db: wal insert position: %w", err)
	}
	return uint64(lsn), nil
}

// BarrierPrefix is the prefix of the logical messages EmitBarrier writes.
const BarrierPrefix = "taskgraph_barrier"

// EmitBarrier writes a transactional logical message into the WAL (wal_level=logical): the live
// feed decodes it after every transaction that committed before it.
func (s *Store) EmitBarrier(ctx context.Context, nonce string) error {
	if _, err := s.x.ExecContext(ctx, `SELECT pg_logical_emit_message(true, $1, $2)`, BarrierPrefix, nonce); err != nil {
		return fmt.Errorf("db: barrier: %w", err)
	}
	return nil
}

// WaitVisible returns once the transactions xids (32-bit ids, as logical decoding gives them,
// all recent) are visible to new snapshots. A transaction's commit reaches the WAL, and so the
// logical feed, a moment before other sessions see its rows: a row read back in that moment
// would look missing.
func (s *Store) WaitVisible(ctx context.Context, xids []uint32) error {
	for {
		var snap string
		if err := s.x.QueryRowxContext(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
			return fmt.Errorf("db: snapshot: %w", err)
		}
		running, err := inProgress(snap, xids)
		if err != nil {
			return err
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// inProgress reports whether any of xids is in progress in snap (pg_current_snapshot's text,
// xmin:xmax:xip,...): at or after xmax, or listed.
func inProgress(snap string, xids []uint32) (bool, error) {
	parts := strings.Split(snap, ":")
	if len(parts) != 3 {
		return false, fmt.Errorf("db: snapshot %q", snap)
	}
	xmax, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return false, fmt.Errorf("db: snapshot %q", snap)
	}
	full := func(x uint32) uint64 { // the 64-bit id of a recent 32-bit one
		f := xmax&^0xffffffff | uint64(x)
		if f > xmax && f >= 1<<32 {
			f -= 1 << 32
		}
		return f
	}
	listed := map[uint64]bool{}
	if parts[2] != "" {
		for _, p := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return false, fmt.Errorf("db: snapshot %q", snap)
			}
			listed[v] = true
		}
	}
	for _, x := range xids {
		if f := full(x); f >= xmax || listed[f] {
			return true, nil
		}
	}
	return false, nil
}
