package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// verifyJWKSCommand checks the JWKS at the URL given, or the configured one.
func verifyJWKSCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	cfg, err := cl.env.auth()
	if err != nil && !errors.Is(err, auth.ErrNoBetterAuthURL) {
		return err
	}
	jwksURL := cl.flags.Arg(0)
	if jwksURL == "" {
		if err != nil {
			return fmt.Errorf("no URL given and no configured JWKS: %w", err)
		}
		jwksURL = cfg.JWKSURL
	}
	return auth.VerifyJWKS(ctx, cl.stdout, jwksURL, cfg.JWKSTimeout)
}

func verifyTokenCommand(ctx context.Context, cl commandLine) error {
	token := cl.flags.String("token", "", "the JWT to verify ('-' reads it from standard input, keeping it out of shell history)")
	jwksURL := cl.flags.String("jwks-url", "", "JWKS URL (default: AUTH_JWKS_URL or {BETTER_AUTH_URL}/api/auth/jwks)")
	if err := cl.parse(); err != nil {
		return err
	}
	t, err := cl.readToken(*token)
	if err != nil {
		return err
	}
	cfg, err := cl.env.auth()
	if err != nil {
		return err
	}
	if *jwksURL != "" {
		cfg.JWKSURL = *jwksURL
	}
	lookup, closeDB := optionalStore(ctx, cl.env.databaseURL(), cl.stdout)
	defer closeDB()
	return auth.VerifyToken(ctx, cl.stdout, cfg, t, lookup)
}

// optionalStore opens the database for the sub lookup if it can; the token check works without it
// for tokens that carry the uuid claim.
func optionalStore(ctx context.Context, databaseURL string, w io.Writer) (auth.SubLookup, func()) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dbx, err := db.Open(ctx, databaseURL, db.Options{MaxConns: 2})
	if err != nil {
		fmt.Fprintln(w, "note: DATABASE_URL is not reachable; tokens without the uuid claim cannot be looked up")
		return nil, func() {}
	}
	return db.NewStore(dbx), func() { dbx.Close() }
}
