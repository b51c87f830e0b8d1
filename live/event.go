package live

import (
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskgraph/taskgraph/db"
)

// Topic is what a subscription hears: the user's task changes or tag changes.
type Topic uint8

const (
	TaskEvents Topic = iota + 1
	TagEvents
)

func topicOf(k db.ChangeKind) Topic {
	if k == db.KindTag {
		return TagEvents
	}
	return TaskEvents
}

// Event is one committed change as its user's subscribers receive it. Subscribers of one user
// share it: it must not be modified.
type Event struct {
	Op   db.ChangeOp
	ID   uuid.UUID
	At   time.Time // when the writing transaction ran (its rows' timestamps), UTC
	Task *db.Task  // TaskEvents: the task as loaded after the commit; nil for OpDeleted
	Tag  *db.Tag   // TagEvents: likewise
	// Cursor is the change's position, opaque: SubscribeAfter resumes after it.
	Cursor string

	pos      position
	mu       sync.Mutex
	rendered map[reflect.Type]any   // the event as each reader type sees it, converted once
	shared   map[string]*sharedPart // Share's results by key (share.go)
}

// render converts ev once per reader type: every subscriber of the user shares the result.
func render[M any](ev *Event, convert func(*Event) M) M {
	t := reflect.TypeFor[M]()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if m, ok := ev.rendered[t]; ok {
		return m.(M)
	}
	m := convert(ev)
	if ev.rendered == nil {
		ev.rendered = map[reflect.Type]any{}
	}
	ev.rendered[t] = m
	return m
}
