package main

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/migrations"
)

// openDatabase applies the migrations through sessionURL (DATABASE_LISTEN_URL, by default
// DATABASE_URL), then opens the pool on databaseURL. The migrations hold a session-level
// advisory lock, so that replicas starting together take turns, and the live-updates listener
// LISTENs on that same URL: both need PostgreSQL sessions of their own, which a transaction
// pooler does not give, so a sessionURL that shares sessions is refused. databaseURL may go
// through one; ownSessions says whether it does not (db.RequirePooling).
func openDatabase(ctx context.Context, databaseURL, sessionURL string, opts db.Options) (dbx *sqlx.DB, ownSessions bool, err error) {
	if ownSessions, err = db.RequirePooling(ctx, databaseURL, sessionURL); err != nil {
		return nil, false, err
	}
	if err := migrate(ctx, sessionURL); err != nil {
		return nil, false, err
	}
	if dbx, err = db.Open(ctx, databaseURL, opts); err != nil {
		return nil, false, fmt.Errorf("DATABASE_URL: cannot connect: %w", err)
	}
	return dbx, ownSessions, nil
}

// migrate applies the pending migrations on a short-lived pool of its own.
func migrate(ctx context.Context, sessionURL string) error {
	mx, err := db.Open(ctx, sessionURL, db.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("migrations: cannot connect: %w", err)
	}
	defer mx.Close()
	if err := migrations.Up(ctx, mx.DB); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
