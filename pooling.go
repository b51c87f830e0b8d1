package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/taskgraph/taskgraph/db"
)

// A transaction-mode pooler (PgBouncer's pool_mode = transaction) in front of DATABASE_URL is
// fine for requests: nothing is prepared by name and everything a transaction sets is SET LOCAL.
// What needs a PostgreSQL session of its own (the listener's LISTEN, the migrations' advisory
// lock) goes through DATABASE_LISTEN_URL, which serve refuses behind such a pooler and doctor
// checks.

// sessionVariable names the variable sessionURL came from, for messages.
func sessionVariable(databaseURL, sessionURL string) string {
	if sessionURL == databaseURL {
		return "DATABASE_URL"
	}
	return "DATABASE_LISTEN_URL"
}

// requirePooling is the start-up check: sessionURL has sessions of its own, and databaseURL,
// which may go through a transaction pooler, can open transactions.
func requirePooling(ctx context.Context, databaseURL, sessionURL string) error {
	if err := requireSessions(ctx, databaseURL, sessionURL); err != nil || sessionURL == databaseURL {
		return err // requireSessions has tried databaseURL's transactions too
	}
	if _, err := db.DetectPooling(ctx, databaseURL); err != nil {
		return poolingError("DATABASE_URL", err)
	}
	return nil
}

// ownSessions tells whether databaseURL's connections are PostgreSQL sessions of their own (no
// transaction pooler), so that db.Store.ReadJSON may keep statements prepared on them. When it is
// sessionURL, requireSessions has already made sure of it.
func ownSessions(ctx context.Context, databaseURL, sessionURL string) (bool, error) {
	if databaseURL == sessionURL {
		return true, nil
	}
	p, err := db.DetectPooling(ctx, databaseURL)
	if err != nil {
		return false, poolingError("DATABASE_URL", err)
	}
	return !p.SharesSessions, nil
}

// requireSessions refuses a sessionURL behind a pooler that shares PostgreSQL sessions between
// clients (db.DetectPooling), saying which setting fixes it.
func requireSessions(ctx context.Context, databaseURL, sessionURL string) error {
	name := sessionVariable(databaseURL, sessionURL)
	p, err := db.DetectPooling(ctx, sessionURL)
	if err != nil {
		return poolingError(name, err)
	}
	if p.SharesSessions {
		return fmt.Errorf("%s goes through a pooler that shares PostgreSQL sessions between clients (%s; "+
			"e.g. PgBouncer with pool_mode = transaction): live updates (LISTEN) and the migrations' lock "+
			"need a session of their own: %s (README.md, Scaling out)", name, describePooling(p), sessionFix(name))
	}
	return nil
}

// poolingError is a DetectPooling failure as a message naming the variable and the fix.
func poolingError(name string, err error) error {
	if errors.Is(err, db.ErrNoTransactions) {
		return fmt.Errorf("%s: %w; every request is a transaction: with PgBouncer, set pool_mode = transaction (README.md, Scaling out)", name, err)
	}
	return fmt.Errorf("%s: cannot connect: %w", name, err)
}

// sessionFix is what to set when the URL named name shares sessions.
func sessionFix(name string) string {
	if name == "DATABASE_LISTEN_URL" {
		return "set DATABASE_LISTEN_URL to a direct connection to the database (not through the pooler)"
	}
	return "set DATABASE_LISTEN_URL to a direct connection to the same database (not through the pooler); DATABASE_URL may stay on the pooler"
}

// describePooling says what gave a pooler away.
func describePooling(p db.Pooling) string {
	if p.Backends[0][0] == p.Backends[1][0] {
		return fmt.Sprintf("two connections open at once were served by the same PostgreSQL backend, %d", p.Backends[0][0])
	}
	return fmt.Sprintf("a connection was served by PostgreSQL backends %v and another by %v in turn", p.Backends[0], p.Backends[1])
}

// doctorChannel is the channel doctor's LISTEN check uses; no server listens on it.
const doctorChannel = "taskgraph_doctor"

// listenWait is how long doctor waits for its NOTIFY to come back.
const listenWait = 3 * time.Second

// checkPooling reports how DATABASE_URL and DATABASE_LISTEN_URL reach PostgreSQL, and whether a
// LISTEN on DATABASE_LISTEN_URL hears a NOTIFY sent through DATABASE_URL (dbx), as the server's
// live updates need.
func checkPooling(ctx context.Context, r *doctorReport, e environment, dbx *sqlx.DB) {
	databaseURL, sessionURL := e.databaseURL(), e.sessionURL()
	name := sessionVariable(databaseURL, sessionURL)
	for _, u := range []struct{ name, url string }{{"DATABASE_URL", databaseURL}, {"DATABASE_LISTEN_URL", sessionURL}} {
		if u.name != "DATABASE_URL" && name == "DATABASE_URL" {
			continue // DATABASE_LISTEN_URL is not set
		}
		check := u.name + " sessions"
		p, err := db.DetectPooling(ctx, u.url)
		switch {
		case errors.Is(err, db.ErrNoTransactions):
			r.fail(check, err, "with PgBouncer, set pool_mode = transaction: every request is a transaction")
		case err != nil:
			r.fail(check, err, "check "+u.name)
		case !p.SharesSessions:
			r.ok(check, "every connection has a PostgreSQL session of its own (direct, or a session-mode pool)")
		case u.name == name:
			r.fail(check, fmt.Errorf("a pooler shares PostgreSQL sessions between clients (%s), and %s also carries LISTEN and the migrations' lock", describePooling(p), name), sessionFix(name))
		default:
			r.ok(check, fmt.Sprintf("a pooler shares PostgreSQL sessions between clients (%s): fine for requests, with DATABASE_LISTEN_URL set", describePooling(p)))
		}
	}
	took, err := listenDelivers(ctx, name, sessionURL, dbx)
	if err != nil {
		r.fail("LISTEN on "+name, err, "live updates need a LISTEN that hears every commit: "+sessionFix(name)+" (README.md, Scaling out)")
		return
	}
	r.ok("LISTEN on "+name, fmt.Sprintf("heard a NOTIFY sent through DATABASE_URL in %s", took.Round(100*time.Microsecond)))
}

// listenDelivers LISTENs on sessionURL (the variable name), sends a NOTIFY through dbx and waits for it: behind a
// transaction pooler the LISTEN stays on whichever server connection ran it, and the
// notification never reaches the listener.
func listenDelivers(ctx context.Context, name, sessionURL string, dbx *sqlx.DB) (time.Duration, error) {
	l := pq.NewListener(sessionURL, 100*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(doctorChannel); err != nil {
		return 0, fmt.Errorf("LISTEN: %w", err)
	}
	payload := fmt.Sprintf("doctor %d", time.Now().UnixNano())
	sent := time.Now()
	if _, err := dbx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, doctorChannel, payload); err != nil {
		return 0, fmt.Errorf("NOTIFY through DATABASE_URL: %w", err)
	}
	timeout := time.After(listenWait)
	for {
		select {
		case n := <-l.Notify:
			if n != nil && n.Extra == payload {
				return time.Since(sent), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("a NOTIFY sent through DATABASE_URL did not reach a LISTEN on %s within %s", name, listenWait)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
