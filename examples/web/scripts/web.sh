#!/usr/bin/env bash
# `make web`: the whole stack on this machine, PostgreSQL assumed running (as for `go run . dev`).
# Installs and builds what is missing or stale, runs both sides' migrations, then serves the
# Next.js app (Better Auth inside) on WEB_PORT and taskgraph on ADDR, wired to each other.
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$web/../.." && pwd)"
WEB_PORT="${WEB_PORT:-3000}"
ADDR="${ADDR:-127.0.0.1:8080}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
api_host="${ADDR%:*}"; api_host="${api_host:-127.0.0.1}"; [ "$api_host" = "0.0.0.0" ] && api_host=127.0.0.1
web_url="http://127.0.0.1:${WEB_PORT}"
api_url="http://${api_host}:${ADDR##*:}"
export NEXT_TELEMETRY_DISABLED=1

cd "$web"
# A secret of this machine's own for Better Auth, kept in .env.local (gitignored; Next reads it).
if ! grep -q '^BETTER_AUTH_SECRET=' .env.local 2>/dev/null; then
  echo "BETTER_AUTH_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')" >> .env.local
fi

# The Go server builds while npm installs and Next builds.
( cd "$root" && go build -o bin/taskgraph . ) & gobuild=$!
bash scripts/build.sh
wait "$gobuild"

echo "web: migrations (taskgraph, then Better Auth)"
"$root/bin/taskgraph" migrate
node scripts/migrate.mjs

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

BETTER_AUTH_URL="$web_url" TASKGRAPH_URL="$api_url" TRUSTED_ORIGINS="http://localhost:${WEB_PORT}" \
  node node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$WEB_PORT" & pids+=($!)
BETTER_AUTH_URL="$web_url" CORS_ORIGINS="$web_url,http://localhost:${WEB_PORT}" ADDR="$ADDR" \
  "$root/bin/taskgraph" serve & pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "$api_url/readyz" >/dev/null 2>&1 && curl -fs -o /dev/null "$web_url/api/auth/ok" 2>/dev/null && break
  sleep 0.2
done
echo
echo "  taskgraph web app: open $web_url   (API: $api_url/graphql; Ctrl-C stops both)"
echo
wait -n "${pids[@]}"
