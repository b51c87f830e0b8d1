// Command taskgraph is a GraphQL API for tasks and tags whose users sign in with Better Auth.
//
// It verifies Better Auth's JWTs against the JWKS Better Auth publishes, and serves each user only
// their own rows from PostgreSQL. See README.md and ARCHITECTURE.md.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/taskgraph/taskgraph/db"
	"github.com/taskgraph/taskgraph/graph"
	"github.com/taskgraph/taskgraph/migrations"
)

// commands are the subcommands, in the order usage lists them, with the environment each reads
// and an example for its --help.
var commands = []struct {
	name, summary string
	run           func(context.Context, commandLine) error
	env           []string
	example       string
}{
	{"serve", "serve the GraphQL API (the default); needs BETTER_AUTH_URL", serveCommand,
		concat(authEnv, serverEnv, []string{"METRICS_ADDR", "CORS_ORIGINS", "GRAPHQL_INTROSPECTION", "GRAPHQL_PLAYGROUND",
			"TRUSTED_DOCUMENTS", "TRUSTED_DOCUMENTS_MODE", "GRAPHQL_RESOLVERS_ONLY", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_IP",
			"TRUSTED_PROXIES", "OPERATIONS_PER_USER", "METRICS_PUBLIC", "METRICS_OPERATIONS"}),
		"BETTER_AUTH_URL=http://localhost:3000 DATABASE_URL=postgres://app@127.0.0.1:5432/app taskgraph serve"},
	{"dev", "run locally with a built-in development issuer and GraphiQL, no Better Auth needed", devCommand,
		concat(serverEnv, []string{"APP_ENV", "DEV_KEY_FILE", "CORS_ORIGINS"}),
		"go run . dev   (then open http://127.0.0.1:8080/)"},
	{"migrate", "apply the database migrations and exit", migrateCommand,
		[]string{"DATABASE_URL", "DATABASE_LISTEN_URL"},
		"DATABASE_URL=postgres://app@127.0.0.1:5432/app taskgraph migrate"},
	{"verify-jwks", "fetch a JWKS and check every key: verify-jwks [URL]", verifyJWKSCommand,
		authEnv,
		"taskgraph verify-jwks http://localhost:3000/api/auth/jwks"},
	{"verify-token", "verify a token exactly as the server would: verify-token --token T [--jwks-url U]", verifyTokenCommand,
		concat(authEnv, []string{"DATABASE_URL"}),
		"pbpaste | BETTER_AUTH_URL=http://localhost:3000 taskgraph verify-token --token -"},
	{"doctor", "check a deployment end to end: doctor [--token T]", doctorCommand,
		concat(authEnv, []string{"DATABASE_URL", "DATABASE_LISTEN_URL"}),
		"BETTER_AUTH_URL=http://localhost:3000 taskgraph doctor --token -"},
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func main() {
	tuneGC(os.Getenv)
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code: 0, 1 when the command failed,
// 2 for a wrong use (after printing the usage).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			usage(stdout)
			return 0
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, version())
			return 0
		}
	}
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	for _, c := range commands {
		if c.name == name {
			cl := commandLine{flags: newFlags(c.name, c.summary, c.env, c.example, stderr), args: args, env: environment(getenv), stdout: stdout, stderr: stderr}
			return exitCode(stderr, name, c.run(ctx, cl))
		}
	}
	fmt.Fprintf(stderr, "taskgraph: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func exitCode(stderr io.Writer, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "taskgraph %s: %v\n", name, err)
		return 1
	}
}

// errUsage is a wrong use of a command, already reported with the command's usage.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: taskgraph <command> [flags]   (go run . <command>)")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "version", "print the version and exit (also --version)")
	fmt.Fprintf(w, "  %-13s %s\n", "help", "print this list (also -h, --help)")
	fmt.Fprintln(w, "\nRun 'taskgraph <command> --help' for a command's flags. Configuration is read from the environment: see README.md.")
}

// commit is the build's commit when the toolchain could not stamp it (-buildvcs=false, a build
// outside a checkout): the Makefile sets it with -ldflags "-X main.commit=...".
var commit string

// version describes this build: the module version ("(devel)" for a build in a checkout), the
// commit and its time, the Go version, and the schema (a hash of the SDL) and migrations it serves.
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info, commit) + ", schema " + schemaVersion() + ", migrations " + migrations.Latest()
}

func versionOf(info *debug.BuildInfo, commit string) string {
	if info == nil {
		return "taskgraph (unknown version)"
	}
	s := "taskgraph " + info.Main.Version
	vcs := map[string]string{}
	for _, kv := range info.Settings {
		vcs[kv.Key] = kv.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		s += " (commit " + rev[:min(12, len(rev))]
		if t := vcs["vcs.time"]; t != "" {
			s += ", " + t
		}
		if vcs["vcs.modified"] == "true" {
			s += ", modified"
		}
		s += ")"
	} else if commit != "" {
		s += " (commit " + commit + ")"
	}
	return s + " " + info.GoVersion
}

// schemaVersion names the GraphQL schema this binary serves: the start of its SDL's sha256 (the
// SDL endpoint's ETag starts the same way).
func schemaVersion() string {
	sum := sha256.Sum256([]byte(graph.SDL()))
	return hex.EncodeToString(sum[:6])
}

// newFlags makes a command's flag set, whose usage (--help, or a wrong use) prints the command's
// summary, flags, environment and example.
func newFlags(name, summary string, env []string, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printHelp(stderr, name, summary, env, example, fs) }
	return fs
}

// commandLine is what a command runs with: its flag set (to which it adds its flags before
// parse), its arguments, the environment and the output streams.
type commandLine struct {
	flags          *flag.FlagSet
	args           []string
	env            environment
	stdout, stderr io.Writer
}

// parse parses the flags. The flag package has already printed a bad flag and the usage.
func (cl commandLine) parse() error {
	if err := cl.flags.Parse(cl.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// usageError reports a wrong use the flag package cannot see (a missing --token) the way it
// reports a bad flag: the problem, then the command's usage.
func (cl commandLine) usageError(format string, args ...any) error {
	fmt.Fprintf(cl.stderr, format+"\n", args...)
	cl.flags.Usage()
	return errUsage
}

// readToken is the value of a --token flag; "-" reads standard input.
func (cl commandLine) readToken(value string) (string, error) {
	if value == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
		if err != nil {
			return "", err
		}
		value = string(b)
	}
	t := strings.TrimSpace(value)
	if t == "" {
		return "", cl.usageError("--token is required")
	}
	return t, nil
}

func migrateCommand(ctx context.Context, cl commandLine) error {
	if err := cl.parse(); err != nil {
		return err
	}
	dbx, err := openDatabase(ctx, cl.env.databaseURL(), cl.env.sessionURL(), db.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer dbx.Close()
	fmt.Fprintln(cl.stdout, "migrations: up to date")
	return nil
}
