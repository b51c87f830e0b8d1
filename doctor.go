package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/taskgraph/taskgraph/auth"
	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/live"
	"github.com/taskgraph/taskgraph/migrations"
)

var errChecksFailed = errors.New("some checks failed")

func doctorCommand(ctx context.Context, cl commandLine) error {
	token := cl.flags.String("token", "", "also verify this token and look up its user ('-' reads standard input)")
	if err := cl.parse(); err != nil {
		return err
	}
	t := ""
	if *token != "" {
		var err error
		if t, err = cl.readToken(*token); err != nil {
			return err
		}
	}
	if doctor(ctx, cl.stdout, cl.env, t) > 0 {
		return errChecksFailed
	}
	return nil
}

// doctor runs every check and returns how many failed.
func doctor(ctx context.Context, w io.Writer, e environment, token string) int {
	r := &doctorReport{w: w}
	dbx := checkDatabase(ctx, r, e.databaseURL())
	if dbx != nil {
		defer dbx.Close()
		checkPooling(ctx, r, e, dbx)
		checkLiveFeed(ctx, r, e.sessionURL())
	}
	cfg, err := e.auth()
	if err != nil {
		r.fail("auth configuration", err, "set BETTER_AUTH_URL to Better Auth's base URL; see README.md for the AUTH_* variables")
		r.skip("JWKS", "no auth configuration")
		return r.failed
	}
	r.ok("auth configuration", fmt.Sprintf("issuer %s, audience %s, algorithms %s",
		cfg.Issuer, strings.Join(cfg.Audiences, ","), strings.Join(cfg.Algorithms, ",")))
	checkIssuerAudience(r, cfg)
	checkJWKS(ctx, r, cfg)
	if token != "" {
		checkToken(ctx, r, cfg, token, dbx)
	}
	return r.failed
}

// checkDatabase connects and checks the migrations and Better Auth's tables. It returns the pool,
// or nil when the database is unreachable.
func checkDatabase(ctx context.Context, r *doctorReport, databaseURL string) *sqlx.DB {
	dbCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	dbx, err := db.Open(dbCtx, databaseURL, db.Options{MaxConns: 2})
	cancel()
	if err != nil {
		r.fail("DATABASE_URL reachable", err, "start PostgreSQL or set DATABASE_URL (e.g. postgres://user@host:5432/db?sslmode=disable)")
		for _, name := range []string{"migrations current", "Better Auth tables"} {
			r.skip(name, "no database")
		}
		return nil
	}
	r.ok("DATABASE_URL reachable", "")
	checkDatabaseRole(ctx, r, dbx)
	checkMigrations(ctx, r, dbx)
	checkBetterAuthTables(ctx, r, dbx)
	return dbx
}

func checkJWKS(ctx context.Context, r *doctorReport, cfg auth.Config) {
	var out bytes.Buffer
	if err := auth.VerifyJWKS(ctx, &out, cfg.JWKSURL, cfg.JWKSTimeout); err != nil {
		indent(r.w, out.String())
		r.fail("JWKS "+cfg.JWKSURL, err, "check that Better Auth runs with the jwt plugin and that AUTH_JWKS_URL (default {BETTER_AUTH_URL}/api/auth/jwks) is reachable from here")
		return
	}
	r.ok("JWKS "+cfg.JWKSURL, "")
	indent(r.w, out.String())
}

// checkToken verifies token as the server would, looking its user up in dbx when there is one.
func checkToken(ctx context.Context, r *doctorReport, cfg auth.Config, token string, dbx *sqlx.DB) {
	var lookup auth.SubLookup
	if dbx != nil {
		lookup = db.NewStore(dbx)
	}
	var out bytes.Buffer
	err := auth.VerifyToken(ctx, &out, cfg, token, lookup)
	indent(r.w, out.String())
	if err != nil {
		r.fail("token", err, "see the fix printed above")
		return
	}
	r.ok("token", "verifies and resolves to a user")
}

// checkDatabaseRole warns when DATABASE_URL's user may bypass row-level security: the data
// transactions switch to taskgraph_app either way, but a superuser or BYPASSRLS login is a large
// blast radius for any statement that runs before or around that switch.
func checkDatabaseRole(ctx context.Context, r *doctorReport, dbx *sqlx.DB) {
	var role struct {
		Name      string `db:"rolname"`
		Super     bool   `db:"rolsuper"`
		BypassRLS bool   `db:"rolbypassrls"`
	}
	const q = `SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`
	if err := sqlx.GetContext(ctx, dbx, &role, q); err != nil {
		r.fail("database role", err, "check DATABASE_URL's permissions")
		return
	}
	var risks []string
	if role.Super {
		risks = append(risks, "is a superuser")
	}
	if role.BypassRLS {
		risks = append(risks, "has BYPASSRLS")
	}
	name := fmt.Sprintf("database role %q", role.Name)
	if len(risks) > 0 {
		r.warn(name, strings.Join(risks, " and ")+", so it bypasses row-level security",
			"connect as a least-privilege login role (README.md, Least privilege: CREATE ROLE ... NOSUPERUSER NOBYPASSRLS)")
		return
	}
	r.ok(name, "no superuser, no BYPASSRLS")
}

func checkMigrations(ctx context.Context, r *doctorReport, dbx *sqlx.DB) {
	n, err := migrations.Pending(ctx, dbx.DB)
	switch {
	case err != nil:
		r.fail("migrations current", err, "run 'taskgraph migrate' ('serve' also applies them at start)")
	case n > 0:
		r.fail("migrations current", fmt.Errorf("%d migration(s) not applied", n), "run 'taskgraph migrate' ('serve' also applies them at start)")
	default:
		r.ok("migrations current", "")
	}
}

// betterAuthColumns are the columns this server relies on, with the fix when one is missing.
var betterAuthColumns = []struct{ table, column, fix string }{
	{"user", "uuid", "run 'taskgraph migrate': it adds \"user\".uuid (uuid UNIQUE NOT NULL DEFAULT gen_random_uuid())"},
	{"session", "token", "run Better Auth's migrations (npx @better-auth/cli migrate, or getMigrations from better-auth/db/migration): session.token comes with Better Auth 1.x"},
	{"jwks", "publicKey", "enable Better Auth's jwt plugin (plugins: [jwt()]) and run its migrations: the plugin keeps its keys in the jwks table"},
}

func checkBetterAuthTables(ctx context.Context, r *doctorReport, dbx *sqlx.DB) {
	const q = `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name IN ('user', 'session', 'jwks')`
	var rows []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	if err := sqlx.SelectContext(ctx, dbx, &rows, q); err != nil {
		r.fail("Better Auth tables", err, "check DATABASE_URL's permissions")
		return
	}
	tables := map[string][]string{}
	for _, row := range rows {
		tables[row.Table] = append(tables[row.Table], row.Column)
	}
	if isDevDatabase(ctx, dbx, tables) {
		r.ok("Better Auth tables", "this is `taskgraph dev`'s database: dev stands in for Better Auth, so its session and jwks tables are not needed")
		return
	}
	for _, c := range betterAuthColumns {
		name := fmt.Sprintf("Better Auth table %q", c.table)
		cols, exists := tables[c.table]
		switch {
		case !exists:
			r.fail(name, fmt.Errorf("relation %q does not exist", c.table), c.fix)
		case !slices.Contains(cols, c.column):
			r.fail(name, fmt.Errorf("column %q of relation %q does not exist", c.column, c.table), c.fix)
		default:
			r.ok(name, "has "+c.column)
		}
	}
}

// checkIssuerAudience catches the "invalid token claims" case before a user meets it: Better Auth
// sets both iss and aud to its base URL unless its jwt plugin overrides them.
func checkIssuerAudience(r *doctorReport, cfg auth.Config) {
	const fix = "Better Auth signs iss and aud as its base URL (BETTER_AUTH_URL, same scheme, host, port, no trailing slash); unset AUTH_ISSUER/AUTH_AUDIENCE or set them to what your jwt plugin's issuer/audience options say"
	if cfg.Issuer != cfg.BetterAuthURL {
		r.fail("issuer", fmt.Errorf("AUTH_ISSUER %q differs from BETTER_AUTH_URL %q", cfg.Issuer, cfg.BetterAuthURL), fix)
	} else {
		r.ok("issuer", "matches BETTER_AUTH_URL")
	}
	if !slices.Contains(cfg.Audiences, cfg.BetterAuthURL) {
		r.fail("audience", fmt.Errorf("AUTH_AUDIENCE %q does not include BETTER_AUTH_URL %q", strings.Join(cfg.Audiences, ","), cfg.BetterAuthURL), fix)
	} else {
		r.ok("audience", "includes BETTER_AUTH_URL")
	}
}

// isDevDatabase tells `dev`'s database: "user" holds dev's user and Better Auth's own tables were
// never created (dev issues tokens itself).
func isDevDatabase(ctx context.Context, dbx *sqlx.DB, tables map[string][]string) bool {
	if _, ok := tables["user"]; !ok {
		return false
	}
	if _, ok := tables["session"]; ok {
		return false
	}
	if _, ok := tables["jwks"]; ok {
		return false
	}
	var dev bool
	err := dbx.GetContext(ctx, &dev, `SELECT EXISTS (SELECT 1 FROM "user" WHERE id = $1)`, devUserID)
	return err == nil && dev
}

// checkLiveFeed says which change feed live updates will use: logical replication, or the NOTIFY
// fallback that serialises notifying writers' commits (a warning, with the setting that switches).
func checkLiveFeed(ctx context.Context, r *doctorReport, listenURL string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kind, why, err := live.ProbeFeed(ctx, listenURL)
	switch {
	case err != nil:
		r.fail("live updates feed", err, "check DATABASE_LISTEN_URL: a direct connection to PostgreSQL, not through a transaction pooler")
	case kind == live.FeedLogical:
		r.ok("live updates feed", "logical replication ("+why+"): writers send no NOTIFY")
	default:
		r.warn("live updates feed", "NOTIFY fallback ("+why+"): every write transaction ends with pg_notify, whose commits PostgreSQL serialises", live.SwitchHint)
	}
}
