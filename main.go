// Command taskgraph is a GraphQL API for tasks and tags whose users sign in with Better Auth.
//
// It verifies Better Auth's JWTs against the JWKS Better Auth publishes, and serves each user only
// their own rows from PostgreSQL. See README.md and ARCHITECTURE.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
