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

// doctor's pooling checks: how DATABASE_URL and DATABASE_LISTEN_URL reach PostgreSQL (serve's own
// start-up checks are db.RequirePooling's).

// doctorChannel is the channel doctor's LISTEN check uses; no server listens on it.
const doctorChannel = "taskgraph_doctor"

// listenWait is how long doctor waits for its NOTIFY to come back.
const listenWait = 3 * time.Second

// checkPooling reports how DATABASE_URL and DATABASE_LISTEN_URL reach PostgreSQL, and whether a
// LISTEN on DATABASE_LISTEN_URL hears a NOTIFY sent through DATABASE_URL (dbx), as the server's
// live updates need.
func checkPooling(ctx context.Context, r *doctorReport, e environment, dbx *sqlx.DB) {
	databaseURL, sessionURL := e.databaseURL(), e.sessionURL()
	name := db.SessionVariable(databaseURL, sessionURL)
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
			r.fail(check, fmt.Errorf("a pooler shares PostgreSQL sessions between clients (%s), and %s also carries LISTEN and the migrations' lock", p.Describe(), name), db.SessionFix(name))
		default:
			r.ok(check, fmt.Sprintf("a pooler shares PostgreSQL sessions between clients (%s): fine for requests, with DATABASE_LISTEN_URL set", p.Describe()))
		}
	}
	took, err := listenDelivers(ctx, name, sessionURL, dbx)
	if err != nil {
		r.fail("LISTEN on "+name, err, "live updates need a LISTEN that hears every commit: "+db.SessionFix(name)+" (README.md, Scaling out)")
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
