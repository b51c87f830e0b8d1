package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/taskgraph/taskgraph/auth"
)

// The development user, created in the "user" table if missing.
const (
	devUserID    = "dev-user"
	devUserEmail = "dev@taskgraph.local"
	devUserName  = "Dev User"
	devTokenTTL  = 24 * time.Hour
)

// devCommand serves the API on loopback with a built-in issuer standing in for Better Auth: an
// Ed25519 key (kept in DEV_KEY_FILE) whose JWKS this process serves itself, and a token for the development user.
func devCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	cfg, err := cl.env.dev()
	if err != nil {
		return err
	}
	keyFile, err := devKeyFile(cl.env)
	if err != nil {
		return err
	}
	d := &devIssuing{stdout: cl.stdout, keyFile: keyFile}
	return start(ctx, startup{
		cfg:     cfg,
		logger:  slog.New(contextHandler{slog.NewTextHandler(cl.stderr, nil)}),
		prepare: d.prepare,
		serving: d.banner,
	})
}

// devIssuing is dev's part of the start-up: the issuer, and the token it printed.
type devIssuing struct {
	stdout  io.Writer
	keyFile string // where the signing key is kept
	created bool   // the key was made by this start
	token   string
}

// devKeyFile is where dev keeps its signing key: DEV_KEY_FILE, by default taskgraph/dev-key.pem in
// the user's configuration folder, so that a token copied into a client survives a restart.
func devKeyFile(e environment) (string, error) {
	if f := e("DEV_KEY_FILE"); f != "" {
		return f, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("DEV_KEY_FILE is not set and there is no user configuration folder to keep the development key in (%v): set DEV_KEY_FILE", err)
	}
	return filepath.Join(dir, "taskgraph", "dev-key.pem"), nil
}

// prepare creates the development user, an issuer at the bound address and the user's token. The
// server trusts the issuer exactly as serve trusts Better Auth: through a JWKS fetched over HTTP
// (from this same process) and the usual iss/aud checks, with auth's defaults.
func (d *devIssuing) prepare(ctx context.Context, a *app, addr string) error {
	userUUID, err := a.store.EnsureUser(ctx, devUserID, devUserEmail, devUserName)
	if err != nil {
		return fmt.Errorf("creating the development user: %w", err)
	}
	base := "http://" + addr
	key, created, err := auth.LoadOrCreateDevKey(d.keyFile)
	if err != nil {
		return fmt.Errorf("DEV_KEY_FILE: %w", err)
	}
	d.created = created
	issuer, err := auth.NewDevIssuerWithKey(base, key)
	if err != nil {
		return err
	}
	d.token, err = issuer.Mint(auth.User{UUID: userUUID, ID: devUserID, Email: devUserEmail, Name: devUserName}, devTokenTTL)
	if err != nil {
		return err
	}
	a.cfg.Auth = auth.NewConfig(base)
	a.playgroundHeaders = map[string]string{"Authorization": "Bearer " + d.token}
	a.routes = func(route func(string, http.Handler)) {
		route("GET /api/auth/jwks", issuer.JWKSHandler())
	}
	return nil
}

func (d *devIssuing) banner(_ *app, addr string) {
	kept := "kept in"
	if d.created {
		kept = "created in"
	}
	fmt.Fprintf(d.stdout, `
taskgraph dev: a development server with a built-in token issuer (not Better Auth).

  GraphiQL:  %[1]s/   (the Authorization header is already filled in)
  GraphQL:   %[1]s/graphql
  Schema:    %[1]s/graphql/schema.graphql   (SDL, for codegen: TASKGRAPH_SCHEMA=<this URL>)
  JWKS:      %[1]s/api/auth/jwks
  User:      %[3]s <%[4]s>, token valid for %[5]s
  Key:       %[6]s %[7]s (DEV_KEY_FILE): tokens survive a restart on the same ADDR

For the diagnostics commands (verify-jwks, verify-token, doctor):

  BETTER_AUTH_URL=%[1]s

Try it:

  curl -s %[1]s/graphql \
    -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer %[2]s' \
    -d '{"query":"{ me { email } tasks { totalCount } }"}'

`, "http://"+addr, d.token, devUserName, devUserEmail, devTokenTTL, kept, d.keyFile)
}
