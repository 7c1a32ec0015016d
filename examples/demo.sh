#!/bin/sh
# make demo: a real campaign end to end on a throwaway PostgreSQL and the
# loopback Graph mock, everything under .drip/ in the checkout.
# make demo-stop (demo.sh stop) stops whatever a demo left running.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
state=$top/.drip
export PATH="$O/bin:$PATH"

. "$top/tests/pg.sh"

step() { printf '\n== %s\n' "$*" >&2; }

stop() {
	if [ -f "$state/pg.env" ]; then
		. "$state/pg.env"
		pg_stop
	fi
	if [ -f "$state/mock.pid" ]; then
		kill "$(cat "$state/mock.pid")" 2>/dev/null || true
	fi
	rm -rf "$state"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi

stop
mkdir -p "$state"
trap 'stop' EXIT
trap 'exit 130' INT TERM

step "starting a throwaway PostgreSQL under .drip/"
pg_start "$state/pg"
printf 'PG_DIR=%s\nPG_BIN=%s\n' "$PG_DIR" "$PG_BIN" >"$state/pg.env"
psql -X -q -d "$PG_ADMIN_URL" -c 'CREATE DATABASE drip_demo'
export DATABASE_URL="host=$PG_DIR user=postgres dbname=drip_demo"

step "db-migrate: creating the schema drip"
db-migrate -v
db-migrate --status | jq .

step "done"
