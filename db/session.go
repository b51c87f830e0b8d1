package db

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// maxPreparedPerSession bounds the statements ReadJSON keeps prepared on one PostgreSQL session
// (each holds its parse tree and plans in that backend's memory): past it, the least recently
// used is deallocated in the message that prepares the next.
const maxPreparedPerSession = 128

// preparedSeq numbers prepared statements across the process, so that a name is never given
// twice, even to a session whose bookkeeping was dropped (sessions.forget) or shared by Stores.
var preparedSeq atomic.Uint64

// sessions is what ReadJSON knows of each PostgreSQL session of the pool: the statements it has
// prepared there. A session is known by its driver connection (database/sql's Conn.Raw), which
// lives exactly as long as the PostgreSQL session; database/sql gives it to one caller at a time,
// so a session's entry needs no lock of its own.
type sessions struct {
	mu     sync.Mutex
	byConn map[any]*session
}

// session is one PostgreSQL session's prepared statements, most recently used first.
type session struct {
	names map[string]*list.Element // key → lru element holding a prepared
	lru   list.List
}

type prepared struct{ key, name string }

// get returns conn's session, creating its entry on first use. Entries of sessions the pool has
// closed are not told apart from live ones; when there are more entries than max (a few times
// the pool's size), all are dropped: a live session then prepares its statements again under new
// names (preparedSeq), so a name never collides, and what it held before stays bounded.
func (ss *sessions) get(ctx context.Context, conn *sqlx.Conn, max int) *session {
	var key any
	if err := conn.Raw(func(dc any) error { key = dc; return nil }); err != nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s := ss.byConn[key]; s != nil {
		return s
	}
	if ss.byConn == nil || len(ss.byConn) >= max {
		ss.byConn = make(map[any]*session)
	}
	s := &session{names: make(map[string]*list.Element)}
	ss.byConn[key] = s
	return s
}

// forget drops conn's entry (its session is being closed).
func (ss *sessions) forget(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, v := range ss.byConn {
		if v == s {
			delete(ss.byConn, k)
		}
	}
}

// lookup returns the name key is prepared under on the session, and whether it is.
func (s *session) lookup(key string) (string, bool) {
	if e, ok := s.names[key]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(prepared).name, true
	}
	return "tg_" + strconv.FormatUint(preparedSeq.Add(1), 10), false
}

// victim is the statement to deallocate before one more is prepared, if the session is full.
func (s *session) victim() (prepared, bool) {
	if s.lru.Len() < maxPreparedPerSession {
		return prepared{}, false
	}
	return s.lru.Back().Value.(prepared), true
}

// prepared records what a successful message did: name prepared for key, evicted deallocated.
func (s *session) record(key, name string, evicted *prepared) {
	if evicted != nil {
		if e, ok := s.names[evicted.key]; ok {
			s.lru.Remove(e)
			delete(s.names, evicted.key)
		}
	}
	s.names[key] = s.lru.PushFront(prepared{key, name})
}
