package main

import (
	"flag"
	"fmt"
	"io"
)

// authEnv is what every command that verifies tokens reads (auth.ConfigFromEnv).
var authEnv = []string{"BETTER_AUTH_URL", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_ALGORITHMS",
	"AUTH_UUID_CLAIM", "AUTH_CLOCK_SKEW", "AUTH_JWKS_REFRESH", "AUTH_JWKS_TIMEOUT"}

// serverEnv is what serve and dev both read.
var serverEnv = []string{"ADDR", "DATABASE_URL", "DATABASE_MAX_CONNS", "DATABASE_LISTEN_URL", "REQUEST_TIMEOUT",
	"MAX_TAGS_PER_TASK", "MAX_TAGS_PER_USER", "SUBSCRIPTIONS_PER_USER", "SUBSCRIPTIONS_MAX", "GOGC", "GOMEMLIMIT",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
	"SOCKETS_PER_USER", "LIVE_FEED", "LIVE_FEED_TIMEOUT", "LIVE_RESUME_WINDOW"}

// settingHelp is one line per environment variable for --help; README.md's Configuration table
// has the whole story (TestHelpNamesEveryVariableItReads keeps the two and the code in step).
var settingHelp = map[string]string{
	"BETTER_AUTH_URL":                    "Better Auth's base URL (required by serve), e.g. http://localhost:3000",
	"AUTH_JWKS_URL":                      "where the public keys are (default {BETTER_AUTH_URL}/api/auth/jwks)",
	"AUTH_ISSUER":                        "required iss (default BETTER_AUTH_URL)",
	"AUTH_AUDIENCE":                      "accepted aud values, comma-separated (default BETTER_AUTH_URL)",
	"AUTH_ALGORITHMS":                    "allowed algorithms, comma-separated (default EdDSA)",
	"AUTH_UUID_CLAIM":                    "the claim with the user's UUID (default uuid)",
	"AUTH_CLOCK_SKEW":                    "leeway for exp, nbf, iat (default 30s)",
	"AUTH_JWKS_REFRESH":                  "JWKS refresh interval (default 1h)",
	"AUTH_JWKS_TIMEOUT":                  "bound on one JWKS fetch (default 5s)",
	"ADDR":                               "listen address (default :8080; 127.0.0.1:8080 in dev)",
	"DATABASE_URL":                       "PostgreSQL, the same database as Better Auth (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)",
	"DATABASE_MAX_CONNS":                 "PostgreSQL sessions in the pool (default 4 × GOMAXPROCS)",
	"DATABASE_LISTEN_URL":                "a direct session for LISTEN and the migrations (default DATABASE_URL)",
	"REQUEST_TIMEOUT":                    "deadline of a query or mutation (default 10s, at most 50s)",
	"MAX_TAGS_PER_TASK":                  "most tags on one task (default 50)",
	"MAX_TAGS_PER_USER":                  "most tags of one user (default 500)",
	"SUBSCRIPTIONS_PER_USER":             "subscriptions one user may have open (default 20)",
	"SUBSCRIPTIONS_MAX":                  "subscriptions open at once (default 10000)",
	"METRICS_ADDR":                       "serve /metrics on this address of its own",
	"CORS_ORIGINS":                       "browser origins allowed, comma-separated (default the origin of BETTER_AUTH_URL)",
	"GRAPHQL_INTROSPECTION":              "allow introspection and serve the SDL (default false)",
	"GRAPHQL_PLAYGROUND":                 "serve GraphiQL at / (default false)",
	"TRUSTED_DOCUMENTS":                  "a manifest of the documents to run (GraphQL Code Generator's persisted documents)",
	"TRUSTED_DOCUMENTS_MODE":             "enforce (default: run only the manifest's documents) or log",
	"GRAPHQL_RESOLVERS_ONLY":             "true: no compiled reads, every operation through the resolvers (default false)",
	"MAX_CONNECTIONS":                    "connections held at once (default from the open-file limit)",
	"MAX_CONNECTIONS_PER_IP":             "connections of one client address (default 512)",
	"TRUSTED_PROXIES":                    "proxies whose X-Forwarded-For names the client, comma-separated",
	"SOCKETS_PER_USER":                   "WebSockets and event streams of one user (default 20)",
	"OPERATIONS_PER_USER":                "one user's queries and mutations running at once (default half the pool)",
	"METRICS_PUBLIC":                     "serve /metrics on ADDR in serve (default false; true in dev)",
	"METRICS_OPERATIONS":                 "operation names counted by name in the metrics (default: the trusted manifest's)",
	"LIVE_FEED":                          "auto (logical replication when wal_level=logical, else NOTIFY), logical or notify",
	"LIVE_FEED_TIMEOUT":                  "how long the live feed's connection may stay silent (default 30s)",
	"LIVE_RESUME_WINDOW":                 "how far back a subscription resumes from its cursor (default 60s)",
	"APP_ENV":                            "production makes dev refuse to start",
	"DEV_KEY_FILE":                       "where dev keeps its signing key (default taskgraph/dev-key.pem in the user's configuration folder)",
	"OTEL_EXPORTER_OTLP_ENDPOINT":        "export traces over OTLP/HTTP to this base URL (+ /v1/traces); unset: no tracing",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "the traces URL itself, instead of the above",
	"OTEL_SERVICE_NAME":                  "service.name of the spans (default taskgraph)",
	"OTEL_SDK_DISABLED":                  "true turns tracing off",
	"OTEL_TRACES_EXPORTER":               "none turns tracing off",
	"GOGC":                               "Go's collector target (default 400)",
	"GOMEMLIMIT":                         "Go's soft memory limit (default 64MiB)",
}

// printHelp is a command's --help: what it does, its flags, the environment it reads, an example.
func printHelp(w io.Writer, name, summary string, env []string, example string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "taskgraph %s: %s\n", name, summary)
	fmt.Fprintln(w, "\nFlags:")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	fs.PrintDefaults()
	if len(env) > 0 {
		fmt.Fprintln(w, "\nEnvironment (README.md, Configuration):")
		for _, k := range env {
			fmt.Fprintf(w, "  %-23s %s\n", k, settingHelp[k])
		}
	}
	if example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", example)
	}
}
