package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// EventsChannel is the PostgreSQL NOTIFY channel every committed write of tasks and tags is
// announced on (package live listens to it).
const EventsChannel = "taskgraph_events"

// ChangeKind is what changed: a task or a tag.
type ChangeKind string

// ChangeOp is how it changed.
type ChangeOp string

const (
	KindTask ChangeKind = "task"
	KindTag  ChangeKind = "tag"

	OpCreated ChangeOp = "created"
	OpUpdated ChangeOp = "updated"
	OpDeleted ChangeOp = "deleted"
)

// Notification is the payload of one NOTIFY: which of a user's rows a committed transaction
// changed, and when (the transaction's clock, the instant its rows' timestamps show). It carries
// ids only, never row data: a listener loads the rows for that user, under row-level security.
type Notification struct {
	User uuid.UUID   `json:"u"`
	At   time.Time   `json:"at"`
	Kind ChangeKind  `json:"k"`
	Op   ChangeOp    `json:"op"`
	IDs  []uuid.UUID `json:"ids"`
	// Tags, from the logical feed only (TxnChanges), are the tags of IDs as the transaction left
	// them, decoded from the WAL: those need no read. Never sent in a NOTIFY.
	Tags map[uuid.UUID]Tag `json:"-"`
}

// MaxIDsPerNotification keeps a payload far below PostgreSQL's 8000-byte limit: 36 bytes and
// quotes and a comma per id, about 140 bytes for the rest. A change of more rows (a deleted tag
// that was on thousands of tasks) is sent as several notifications of one transaction, which
// PostgreSQL delivers together and in order.
const MaxIDsPerNotification = 150

// change is one kind of change a write method made to some rows.
type change struct {
	kind ChangeKind
	op   ChangeOp
	ids  []uuid.UUID
}

// notify queues the notifications of a write transaction's changes for its COMMIT message (txn.notify:
// no round trip of its own). PostgreSQL delivers them when tx commits, after every transaction
// that committed before it, and never if tx rolls back. Every write method calls it once, last,
// with ids it already holds; the payloads are ours (ids, a time, names of kinds), quoted by
// txn.notify.
func notify(tx *txn, user uuid.UUID, at time.Time, changes ...change) error {
	if tx.store.LogicalFeed {
		return nil // the live feed decodes this transaction from the WAL: nothing to send
	}
	payloads, err := notificationPayloads(user, at, changes)
	if err != nil {
		return err
	}
	for _, p := range payloads {
		tx.notify(EventsChannel, p)
	}
	return nil
}

func notificationPayloads(user uuid.UUID, at time.Time, changes []change) ([]string, error) {
	var out []string
	for _, c := range changes {
		for start := 0; start < len(c.ids); start += MaxIDsPerNotification {
			end := min(start+MaxIDsPerNotification, len(c.ids))
			b, err := json.Marshal(Notification{User: user, At: at.UTC(), Kind: c.kind, Op: c.op, IDs: c.ids[start:end]})
			if err != nil {
				return nil, fmt.Errorf("db: notification: %w", err)
			}
			out = append(out, string(b))
		}
	}
	return out, nil
}

// ParseNotification reads a payload written by notify.
func ParseNotification(payload string) (Notification, error) {
	var n Notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return n, fmt.Errorf("db: notification: %w", err)
	}
	switch {
	case n.User == uuid.Nil:
		return n, fmt.Errorf("db: notification without a user")
	case n.Kind != KindTask && n.Kind != KindTag:
		return n, fmt.Errorf("db: notification of unknown kind %q", n.Kind)
	case n.Op != OpCreated && n.Op != OpUpdated && n.Op != OpDeleted:
		return n, fmt.Errorf("db: notification of unknown op %q", n.Op)
	}
	return n, nil
}

// Notify sends payload on EventsChannel outside any transaction (live's barrier: once it comes
// back, every notification committed before it has been received).
func (s *Store) Notify(ctx context.Context, payload string) error {
	if _, err := s.x.ExecContext(ctx, `SELECT pg_notify($1, $2)`, EventsChannel, payload); err != nil {
		return fmt.Errorf("db: notify: %w", err)
	}
	return nil
}
