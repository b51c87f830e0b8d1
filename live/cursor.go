package live

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
)

// position is where a change sits in the feed: for the logical feed the end of its transaction's
// commit record in the WAL (the same on every replica of one cluster), for the NOTIFY fallback
// the order in which this replica's listener connection heard it (epoch names that connection).
// k orders the changes of one transaction.
type position struct {
	epoch uint64
	pos   uint64
	k     uint32
}

// logicalEpoch marks positions of the logical feed: WAL positions, comparable across replicas
// and reconnections. NOTIFY epochs are random and never this value.
const logicalEpoch = 0

// after is a position that comes after every change of pos itself: "the changes committed after pos".
func after(epoch, pos uint64) position { return position{epoch, pos, math.MaxUint32} }

// less orders positions of one epoch.
func (p position) less(q position) bool {
	if p.pos != q.pos {
		return p.pos < q.pos
	}
	return p.k < q.k
}

// ErrBadCursor: an after argument that no event carried.
var ErrBadCursor = errors.New("not a cursor of taskEvents or tagEvents")

const cursorVersion = 1

// cursor is the opaque text of p that events carry and after arguments give back.
func (p position) cursor() string {
	var b [21]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], p.epoch)
	binary.BigEndian.PutUint64(b[9:], p.pos)
	binary.BigEndian.PutUint32(b[17:], p.k)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseCursor(s string) (position, error) {
	if len(s) != 28 {
		return position{}, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 21 || b[0] != cursorVersion {
		return position{}, ErrBadCursor
	}
	return position{binary.BigEndian.Uint64(b[1:]), binary.BigEndian.Uint64(b[9:]), binary.BigEndian.Uint32(b[17:])}, nil
}
