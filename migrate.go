package main

import (
	"context"
	"fmt"

	"github.com/taskgraph/taskgraph/db"
)

// migrateCommand applies the migrations (openDatabase does) and exits.
func migrateCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	dbx, _, err := openDatabase(ctx, cl.env.databaseURL(), cl.env.sessionURL(), db.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer dbx.Close()
	fmt.Fprintln(cl.stdout, "migrations: up to date")
	return nil
}
