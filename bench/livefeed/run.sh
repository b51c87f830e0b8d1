#!/usr/bin/env bash
# The cost of live updates to writers (issue 19), measured on a private PostgreSQL cluster with
# wal_level=logical and fsync on (the shared cluster is never touched): 32 pgbench clients run
# the app's createTask statements (prelude, INSERT ... RETURNING, COMMIT) for 10 s, in three
# modes interleaved over ROUNDS rounds:
#   off      no live updates at all;
#   notify   the NOTIFY fallback: pg_notify before COMMIT, one session LISTENing;
#   logical  the logical feed: no pg_notify, a temporary slot decoding the publication with
#            pgoutput (pg_recvlogical, what each replica's hub does).
# It prints tps and the p99 of a transaction's latency for each. Run as root or the postgres user.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/taskgraph-livefeed-XXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cp "$here"/*.sql "$dir"/ && chmod 644 "$dir"/*.sql
as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\nwal_level=logical\nmax_connections=100\n" "$port" "$dir" >> "$dir/data/postgresql.conf"
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null; rm -rf "$dir"' EXIT
url="postgres://postgres@127.0.0.1:$port/lb?sslmode=disable"
psql -qh 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE lb"
(cd "$here/../.." && DATABASE_URL="$url" go run . migrate >/dev/null)
psql -qh 127.0.0.1 -p "$port" -U postgres -d lb -c "INSERT INTO \"user\" (id,name,email,\"emailVerified\",\"createdAt\",\"updatedAt\") SELECT 'u'||g,'n','e'||g||'@x',false,now(),now() FROM generate_series(1,32) g"

run() { # mode script
  rm -f "$dir"/pgbench_log.*
  (cd "$dir" && pgbench -h 127.0.0.1 -p "$port" -U postgres -n -c 32 -j 4 -T "$SECS" -l -f "$2" lb 2>&1) > "$dir/out"
  tps=$(grep -oP '^tps = \K[0-9.]+' "$dir/out")
  p99=$(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]/1000}')
  printf "%-8s tps %8.0f  commit p99 %7.1f ms\n" "$1" "$tps" "$p99"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  run off write.sql
  psql -qh 127.0.0.1 -p "$port" -U postgres -d lb -c "LISTEN taskgraph_events; SELECT pg_sleep($SECS + 5)" >/dev/null &
  listener=$!
  sleep 0.5
  run notify write-notify.sql
  kill $listener 2>/dev/null || true; wait $listener 2>/dev/null || true
  pg_recvlogical -h 127.0.0.1 -p "$port" -U postgres -d lb --slot "bench_$r" --create-slot -P pgoutput >/dev/null
  pg_recvlogical -h 127.0.0.1 -p "$port" -U postgres -d lb --slot "bench_$r" --start --no-loop -o proto_version=1 -o publication_names=taskgraph_live -f /dev/null &
  decoder=$!
  sleep 0.5
  run logical write.sql
  kill $decoder; wait $decoder 2>/dev/null || true
  sleep 0.5
  psql -qh 127.0.0.1 -p "$port" -U postgres -d lb -c "SELECT pg_drop_replication_slot('bench_$r')" >/dev/null
done
