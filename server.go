// Command taskgraph is a GraphQL API for tasks and tags whose users sign in with Better Auth.
//
// It verifies Better Auth's JWTs against the JWKS Better Auth publishes, and serves each user only
// their own rows from PostgreSQL. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/rs/cors"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/ide"
	"github.com/taskgraph/taskgraph/migrations"
)

const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	maxBodyBytes       = 1 << 20
	shutdownGrace      = 10 * time.Second
)

var commands = []struct{ name, summary string }{
	{"serve", "serve the GraphQL API (the default); needs BETTER_AUTH_URL"},
	{"dev", "run locally with a built-in development issuer and GraphiQL, no Better Auth needed"},
	{"migrate", "apply the database migrations and exit"},
	{"verify-jwks", "fetch a JWKS and check every key: verify-jwks [URL]"},
	{"verify-token", "verify a token exactly as the server would: verify-token --token T [--jwks-url U]"},
	{"doctor", "check a deployment end to end: doctor [--token T]"},
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCommand(ctx, args, getenv, stderr)
	case "dev":
		err = devCommand(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = migrateCommand(ctx, args, getenv, stdout, stderr)
	case "verify-jwks":
		err = verifyJWKSCommand(ctx, args, getenv, stdout, stderr)
	case "verify-token":
		err = verifyTokenCommand(ctx, args, getenv, stdout, stderr)
	case "doctor":
		err = doctorCommand(ctx, args, getenv, stdout, stderr)
	case "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "taskgraph: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "taskgraph %s: %v\n", cmd, err)
		return 1
	}
}

var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: taskgraph <command> [flags]   (go run . <command>)")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'taskgraph <command> --help' for a command's flags. Configuration is read from the environment: see README.md.")
}

// newFlags makes a flag set whose --help prints the command's summary and flags.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, c := range commands {
			if c.name == name {
				fmt.Fprintf(stderr, "taskgraph %s: %s\n", name, c.summary)
			}
		}
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// serverConfig is the configuration outside the auth package's.
type serverConfig struct {
	Addr          string
	DatabaseURL   string
	CORSOrigins   []string
	Introspection bool
	Playground    bool
}

func serverConfigFromEnv(getenv func(string) string, betterAuthURL string) (serverConfig, error) {
	c := serverConfig{
		Addr:        envOr(getenv, "ADDR", ":8080"),
		DatabaseURL: envOr(getenv, "DATABASE_URL", defaultDatabaseURL),
	}
	var err error
	if c.Introspection, err = envBool(getenv, "GRAPHQL_INTROSPECTION"); err != nil {
		return c, err
	}
	if c.Playground, err = envBool(getenv, "GRAPHQL_PLAYGROUND"); err != nil {
		return c, err
	}
	if v := getenv("CORS_ORIGINS"); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, strings.TrimRight(o, "/"))
			}
		}
	} else if betterAuthURL != "" {
		u, err := url.Parse(betterAuthURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return c, fmt.Errorf("BETTER_AUTH_URL: %q is not an absolute URL", betterAuthURL)
		}
		c.CORSOrigins = []string{u.Scheme + "://" + u.Host}
	}
	return c, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) (bool, error) {
	v := getenv(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", key, v)
	}
	return b, nil
}

// app is everything a running server needs; serve and dev build it differently.
type app struct {
	logger   *slog.Logger
	db       *sqlx.DB
	verifier *auth.Verifier
	metrics  *metrics
	cfg      serverConfig
	// playgroundHeaders are put in GraphiQL's header editor (dev: the development user's token).
	playgroundHeaders map[string]string
	// routes adds routes that exist in one mode only (dev: the development JWKS).
	routes func(mux *http.ServeMux)
}

// openDatabase opens the pool and applies the migrations (under an advisory lock, so replicas
// starting together take turns).
func openDatabase(ctx context.Context, databaseURL string) (*sqlx.DB, error) {
	dbx, err := db.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: cannot connect: %w", err)
	}
	if err := migrations.Up(ctx, dbx.DB); err != nil {
		dbx.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return dbx, nil
}

func (a *app) handler() http.Handler {
	gql := graph.NewServer(db.NewStore(a.db), graph.Options{
		Introspection: a.cfg.Introspection,
		Logger:        a.logger,
	})
	observeGraphQL(gql)
	api := auth.Middleware(a.verifier)(limitBody(gql))

	mux := http.NewServeMux()
	mux.Handle("POST /graphql", api)
	mux.Handle("GET /graphql", api)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", a.metrics.handler())
	if a.cfg.Introspection {
		mux.Handle("GET /graphql/schema.graphql", graph.SDLHandler())
	}
	if a.cfg.Playground {
		h := ide.Handler(ide.Config{
			Endpoint:  "/graphql",
			Headers:   a.playgroundHeaders,
			Document:  ide.StarterDocument,
			Variables: ide.StarterVariables,
		})
		mux.Handle("GET /{$}", h)
		mux.Handle("GET "+ide.Prefix, h)
	}
	if a.routes != nil {
		a.routes(mux)
	}
	c := cors.New(cors.Options{
		AllowedOrigins: a.cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Request-Id"},
		ExposedHeaders: []string{"WWW-Authenticate", "Retry-After", "X-Request-Id"},
		MaxAge:         600,
	})
	return observe(a.logger, a.metrics, routeOf, c.Handler(mux))
}

// ready answers 200 only when PostgreSQL answers and JWKS keys are loaded.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"database": "ok", "jwks": "ok"}
	ok := true
	if err := a.db.PingContext(ctx); err != nil {
		body["database"] = "unreachable"
		ok = false
	}
	if !a.verifier.KeysLoaded() {
		body["jwks"] = "no keys loaded yet"
		ok = false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	body["status"] = map[bool]string{true: "ready", false: "not ready"}[ok]
	writeJSON(w, status, body)
}

// limitBody refuses bodies over 1 MiB before gqlgen reads them.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []any{map[string]any{
				"message":    "request body is larger than 1 MiB",
				"extensions": map[string]string{"code": "BAD_REQUEST"},
			}}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveHTTP serves until ctx is done, then stops accepting, lets in-flight requests finish (up to
// shutdownGrace) and returns nil.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func serveCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	authCfg, err := auth.ConfigFromEnv(getenv)
	if errors.Is(err, auth.ErrNoBetterAuthURL) {
		return errors.New("BETTER_AUTH_URL is not set: set it to your Better Auth base URL (e.g. http://localhost:3000), or run 'go run . dev' to explore locally without Better Auth")
	}
	if err != nil {
		return err
	}
	cfg, err := serverConfigFromEnv(getenv, authCfg.BetterAuthURL)
	if err != nil {
		return err
	}
	logger := slog.New(contextHandler{slog.NewJSONHandler(stderr, nil)})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dbx, err := openDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer dbx.Close()
	m := newMetrics(dbx.DB)
	// The verifier's background JWKS refresh stops with ctx, i.e. on SIGTERM.
	verifier, err := auth.NewVerifier(ctx, authCfg, db.NewStore(dbx), m.authHooks())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	a := &app{logger: logger, db: dbx, verifier: verifier, metrics: m, cfg: cfg}
	logger.Info("serving", "addr", ln.Addr().String(), "jwks", authCfg.JWKSURL,
		"issuer", authCfg.Issuer, "algorithms", strings.Join(authCfg.Algorithms, ","))
	return serveHTTP(ctx, ln, a.handler(), logger)
}

func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dbx, err := openDatabase(ctx, envOr(getenv, "DATABASE_URL", defaultDatabaseURL))
	if err != nil {
		return err
	}
	defer dbx.Close()
	fmt.Fprintln(stdout, "migrations: up to date")
	return nil
}

// jwksTimeout reads AUTH_JWKS_TIMEOUT for the commands that need no full configuration.
func jwksTimeout(getenv func(string) string) (time.Duration, error) {
	v := getenv("AUTH_JWKS_TIMEOUT")
	if v == "" {
		return 5 * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("AUTH_JWKS_TIMEOUT: %q is not a positive Go duration (e.g. 5s)", v)
	}
	return d, nil
}

func verifyJWKSCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("verify-jwks", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	timeout, err := jwksTimeout(getenv)
	if err != nil {
		return err
	}
	jwksURL := fs.Arg(0)
	if jwksURL == "" {
		cfg, err := auth.ConfigFromEnv(getenv)
		if err != nil {
			return fmt.Errorf("no URL given and no configured JWKS: %w", err)
		}
		jwksURL = cfg.JWKSURL
	}
	return auth.VerifyJWKS(ctx, stdout, jwksURL, timeout)
}

func verifyTokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("verify-token", stderr)
	token := fs.String("token", "", "the JWT to verify ('-' reads it from standard input, keeping it out of shell history)")
	jwksURL := fs.String("jwks-url", "", "JWKS URL (default: AUTH_JWKS_URL or {BETTER_AUTH_URL}/api/auth/jwks)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	t, err := readToken(*token)
	if err != nil {
		return err
	}
	cfg, err := auth.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	if *jwksURL != "" {
		cfg.JWKSURL = *jwksURL
	}
	lookup, closeDB := optionalStore(ctx, getenv, stdout)
	defer closeDB()
	return auth.VerifyToken(ctx, stdout, cfg, t, lookup)
}

func readToken(flagValue string) (string, error) {
	if flagValue == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
		if err != nil {
			return "", err
		}
		flagValue = string(b)
	}
	t := strings.TrimSpace(flagValue)
	if t == "" {
		return "", fmt.Errorf("--token is required: %w", errUsage)
	}
	return t, nil
}

// optionalStore opens the database for the sub lookup if it can; the token check works without it
// for tokens that carry the uuid claim.
func optionalStore(ctx context.Context, getenv func(string) string, w io.Writer) (auth.SubLookup, func()) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dbx, err := db.Open(ctx, envOr(getenv, "DATABASE_URL", defaultDatabaseURL))
	if err != nil {
		fmt.Fprintln(w, "note: DATABASE_URL is not reachable; tokens without the uuid claim cannot be looked up")
		return nil, func() {}
	}
	return db.NewStore(dbx), func() { dbx.Close() }
}
