package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// ReadJSON runs one read statement as user (RLS on, READ ONLY) and returns its single text
// column: the compiled read path's statement, which builds the response's JSON in PostgreSQL.
// key names the statement (the same key always comes with the same SQL), so that a session can
// keep it prepared.
//
// It is one round trip: a single simple-protocol message holds the transaction's prelude, the
// statement and COMMIT. On a session of its own (Store.OwnSessions) the statement is PREPAREd
// the first time that session runs key, in that same message, and EXECUTEd by name afterwards,
// so PostgreSQL parses and plans it once per session; through a transaction pooler, which may
// hand each transaction another session, the message carries the statement's text instead.
// Either way the arguments travel as literals written from typed values (literal).
//
// Cast every parameter in the statement ($1::uuid, $2::int, ...): PREPARE infers a parameter's
// type from where it stands, and refuses one it cannot infer, while the same value written as a
// literal in the text form may be accepted as text; with casts both forms behave alike.
// Let the statement's column be json or cstring (textout(…)) rather than text: lib/pq hands those
// over as the bytes it read, where it copies text into a string first (one copy of the response
// fewer).
func (s *Store) ReadJSON(ctx context.Context, user uuid.UUID, key, query string, args ...any) ([]byte, error) {
	if user == uuid.Nil {
		return nil, fmt.Errorf("db: no user for transaction")
	}
	lits, err := literals(args)
	if err != nil {
		return nil, err
	}
	out, retry, err := s.readJSON(ctx, user, key, query, args, lits, s.OwnSessions && !s.unprepared.Load())
	if retry {
		out, _, err = s.readJSON(ctx, user, key, query, args, lits, false)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// readJSON is ReadJSON on one session, with the statement prepared there when prepare. retry
// says that the session did not hold a statement it was known to hold (a pooler sharing sessions
// that DetectPooling did not see): ReadJSON then stops preparing and runs the statement as text.
func (s *Store) readJSON(ctx context.Context, user uuid.UUID, key, query string, args []any, lits string, prepare bool) (out []byte, retry bool, err error) {
	conn, err := s.x.Connx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("db: connect: %w", err)
	}
	t := &txn{conn: conn}
	defer t.close()
	var sess *session
	if prepare {
		sess = s.sessions.get(ctx, conn, 4*s.x.Stats().MaxOpenConnections+16)
	}
	m, err := s.jsonMessage(sess, user, key, query, args, lits)
	if err != nil {
		return nil, false, err
	}

	t.open = true // from now on: even a failed message may have begun the transaction
	if sess != nil && (!m.known || m.evicted != nil) {
		// PREPARE and DEALLOCATE are not undone by a rollback: if the message fails, which of
		// them ran is unknown, so the session is closed rather than kept with wrong bookkeeping.
		defer func() {
			if err != nil {
				s.sessions.forget(sess)
				t.discard = true
			}
		}()
	}
	out, err = t.queryOne(ctx, m.text)
	if err != nil {
		var pe *pq.Error
		if sess != nil && m.known && errors.As(err, &pe) && pe.Code == pgUndefinedPrepared {
			s.unprepared.Store(true)
			s.sessions.forget(sess)
			t.discard = true
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("db: read json: %w", err)
	}
	t.open = false // the message ended with COMMIT
	if sess != nil && !m.known {
		sess.record(key, m.name, m.evicted)
	}
	return out, false, nil
}

// jsonMessage is ReadJSON's one message and what it does to the session's prepared statements.
type jsonMessage struct {
	text    string
	name    string    // the statement's name on the session (when prepared there)
	known   bool      // the session holds it prepared already
	evicted *prepared // deallocated by the message, to make room
}

// jsonMessage builds the message that runs query for user: the prelude, the statement, COMMIT.
// On a session (sess not nil) the statement is prepared there, the least recently used one
// deallocated first when the session is full; without one it goes as text.
func (s *Store) jsonMessage(sess *session, user uuid.UUID, key, query string, args []any, lits string) (jsonMessage, error) {
	var m jsonMessage
	var msg strings.Builder
	if sess != nil {
		m.name, m.known = sess.lookup(key)
		if !m.known {
			if v, ok := sess.victim(); ok {
				m.evicted = &v
				msg.WriteString("DEALLOCATE " + v.name + "; ")
			}
		}
	}
	msg.WriteString(s.prelude(readOnly, user))
	run, err := m.run(sess != nil, query, args, lits)
	if err != nil {
		return m, err
	}
	msg.WriteString(run)
	msg.WriteString("; COMMIT")
	m.text = msg.String()
	return m, nil
}

// run is the part of the message that runs the statement: its text with the arguments written
// in, or, prepared on the session, EXECUTE with them (after PREPARE the first time).
func (m *jsonMessage) run(onSession bool, query string, args []any, lits string) (string, error) {
	if !onSession {
		in, err := inline(query, args)
		if err != nil {
			return "", err
		}
		return "; " + in, nil
	}
	var b strings.Builder
	if !m.known {
		q, err := statement(query, func(n int) (string, bool) { return "$" + strconv.Itoa(n), n >= 1 && n <= len(args) })
		if err != nil {
			return "", err
		}
		b.WriteString("; PREPARE " + m.name + " AS ")
		b.WriteString(q)
	}
	b.WriteString("; EXECUTE " + m.name)
	if lits != "" {
		b.WriteString("(" + lits + ")")
	}
	return b.String(), nil
}

// queryOne sends msg as one simple-protocol message and returns the single column of the single
// row its one row-returning statement gives. Every result of the message is read, so an error
// from any statement of it (COMMIT included) is returned.
func (t *txn) queryOne(ctx context.Context, msg string) ([]byte, error) {
	rows, err := t.conn.QueryContext(ctx, msg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []byte
	n := 0
	for rows.Next() {
		if err := rows.Scan(&out); err != nil {
			return nil, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("db: read json: %d rows, want 1", n)
	}
	return out, nil
}

// pgUndefinedPrepared is "prepared statement does not exist".
const pgUndefinedPrepared = "26000"
