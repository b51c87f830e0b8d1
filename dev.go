package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
)

// The development user, created in the "user" table if missing.
const (
	devUserID    = "dev-user"
	devUserEmail = "dev@taskgraph.local"
	devUserName  = "Dev User"
	devTokenTTL  = 24 * time.Hour
)

// devCommand serves the API on loopback with a built-in issuer standing in for Better Auth: a fresh
// Ed25519 key whose JWKS this process serves itself, and a token for the development user.
func devCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	cfg, err := cl.env.dev()
	if err != nil {
		return err
	}
	logger := slog.New(contextHandler{slog.NewTextHandler(cl.stderr, nil)})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dbx, err := openDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer dbx.Close()
	store := db.NewStore(dbx)
	userUUID, err := store.EnsureUser(ctx, devUserID, devUserEmail, devUserName)
	if err != nil {
		return fmt.Errorf("creating the development user: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	base := "http://" + ln.Addr().String()
	issuer, err := auth.NewDevIssuer(base)
	if err != nil {
		return err
	}
	// The server trusts the development issuer exactly as serve trusts Better Auth: through a JWKS
	// fetched over HTTP (from this same process) and the usual iss/aud checks, with auth's defaults.
	cfg.Auth = auth.NewConfig(base)
	m := newMetrics(dbx.DB)
	verifier, err := auth.NewVerifier(ctx, cfg.Auth, store, m.authHooks())
	if err != nil {
		return err
	}
	token, err := issuer.Mint(auth.User{UUID: userUUID, ID: devUserID, Email: devUserEmail, Name: devUserName}, devTokenTTL)
	if err != nil {
		return err
	}
	a := &app{
		logger: logger, db: dbx, verifier: verifier, metrics: m, cfg: cfg,
		playgroundHeaders: map[string]string{"Authorization": "Bearer " + token},
		routes: func(route func(string, http.Handler)) {
			route("GET /api/auth/jwks", issuer.JWKSHandler())
		},
	}
	printDevBanner(cl.stdout, base, token)
	return serveHTTP(ctx, ln, a.handler(), logger)
}

func printDevBanner(w io.Writer, base, token string) {
	fmt.Fprintf(w, `
taskgraph dev: a development server with a built-in token issuer (not Better Auth).

  GraphiQL:  %[1]s/   (the Authorization header is already filled in)
  GraphQL:   %[1]s/graphql
  JWKS:      %[1]s/api/auth/jwks
  User:      %[3]s <%[4]s>, token valid for %[5]s

Try it:

  curl -s %[1]s/graphql \
    -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer %[2]s' \
    -d '{"query":"{ me { email } tasks { totalCount } }"}'

`, base, token, devUserName, devUserEmail, devTokenTTL)
}
