#!/bin/bash
# PostgreSQL's CPU per transaction for each part of a request's prelude (bench/README.md,
# "PostgreSQL's share"). Needs a cluster of its own (its postmaster's reaped children are what is
# counted, so nothing else may run there) holding the bench's data (bench/seed.sql, e.g. a
# database kept with BENCH_KEEP=1 and dumped into it), and pgbench.
#
#   PGDATA=/path/to/data PGPORT=55433 DB=pgshare_work bench/prelude/measure.sh [rounds] [transactions per client]
#
# Each variant runs 20 clients × N transactions (-M simple, one script per user as the bench's
# (b)); PostgreSQL's CPU is the postmaster's cutime + cstime delta (its backends' CPU, counted when
# they exit at the end of the run) divided by the transactions.
set -euo pipefail
rounds=${1:-3}
txns=${2:-4000}
: "${PGDATA:?the data directory of the cluster}" "${PGPORT:?its port}" "${DB:?the seeded database}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pm=$(head -1 "$PGDATA/postmaster.pid")
tck=$(getconf CLK_TCK)
psql() { command psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" -Atc "$1"; }

page="SELECT id, title, description, completed_at, priority, due_at, created_at, updated_at, (SELECT json_agg(json_build_object('ID', g.id, 'Name', g.name, 'Color', g.color, 'CreatedAt', g.created_at) ORDER BY lower(g.name), g.id) FROM task_tags tt JOIN tags g ON g.user_uuid = tt.user_uuid AND g.id = tt.tag_id WHERE tt.user_uuid = \$1 AND tt.task_id = t.id) AS tags FROM tasks t WHERE t.user_uuid = \$1 ORDER BY t.created_at DESC, t.id DESC LIMIT \$2"
for u in $(seq 1 20); do
	id=$(psql "SELECT md5('user$u')::uuid")
	lit="'$id'"
	pl="${page//\$1/$lit}"
	pl="${pl//\$2/21}"
	role="SET LOCAL ROLE taskgraph_app"
	user="SET LOCAL app.user_uuid = '$id'"
	timeout="SET LOCAL statement_timeout = 30000"
	# The prelude's parts, with SELECT 1 as the statement so that they are what is measured.
	echo "SELECT 1;" >"$dir/p0-$u.sql"
	echo "BEGIN READ ONLY\\; SELECT 1\\; COMMIT;" >"$dir/p1-$u.sql"
	echo "BEGIN READ ONLY\\; $user\\; SELECT 1\\; COMMIT;" >"$dir/p2-$u.sql"
	echo "BEGIN READ ONLY\\; $role\\; $user\\; SELECT 1\\; COMMIT;" >"$dir/p3-$u.sql"
	echo "BEGIN READ ONLY\\; $role\\; $user\\; $timeout\\; SELECT 1\\; COMMIT;" >"$dir/p4-$u.sql"
	printf 'BEGIN READ ONLY\\; %s\\; %s\\; %s;\nSELECT 1;\nCOMMIT;\n' "$role" "$user" "$timeout" >"$dir/p5-$u.sql"
	# page1's statement: as text in the one message, and PREPAREd once per client then EXECUTEd.
	echo "BEGIN READ ONLY\\; $role\\; $user\\; $timeout\\; $pl\\; COMMIT;" >"$dir/t-$u.sql"
	printf '\\if :p = 0\nPREPARE pg1(uuid, int) AS %s;\n\\set p 1\n\\endif\nBEGIN READ ONLY\\; %s\\; %s\\; %s\\; EXECUTE pg1(%s, 21)\\; COMMIT;\n' \
		"$page" "$role" "$user" "$timeout" "$lit" >"$dir/x-$u.sql"
done
declare -A label=(
	[p0]="SELECT 1 alone"
	[p1]="+ BEGIN READ ONLY … COMMIT, same message"
	[p2]="+ SET LOCAL app.user_uuid"
	[p3]="+ SET LOCAL ROLE taskgraph_app"
	[p4]="+ SET LOCAL statement_timeout"
	[p5]="the same in three messages (prelude, statement, COMMIT)"
	[t]="page1's statement as text, one message with the prelude"
	[x]="page1's statement prepared, EXECUTE in one message with the prelude"
)
for r in $(seq 1 "$rounds"); do
	for v in p0 p1 p2 p3 p4 p5 t x; do
		n=$txns
		[[ $v == t || $v == x ]] && n=$((txns / 10))
		files=()
		for u in $(seq 1 20); do files+=(-f "$dir/$v-$u.sql@1"); done
		before=$(awk '{print $16 + $17}' "/proc/$pm/stat")
		out=$(pgbench -h 127.0.0.1 -p "$PGPORT" -U postgres -n -M simple -D p=0 -c 20 -j 2 -t "$n" "${files[@]}" "$DB" 2>&1)
		sleep 0.5
		after=$(awk '{print $16 + $17}' "/proc/$pm/stat")
		done=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
		tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
		printf '%s\t%-3s\t%6d µs/txn\t%8.0f tps\t%s\n' "$r" "$v" $(((after - before) * 1000000 / tck / done)) "$tps" "${label[$v]}"
	done
done
