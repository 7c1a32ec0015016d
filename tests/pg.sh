# pg.sh: start and stop a throwaway PostgreSQL cluster (sourced).
# pg_start [DIR] sets PG_DIR (DIR, or a new temporary folder), PG_ADMIN_URL;
# pg_stop stops the server and removes the folder.

pg_bindir() {
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
	[ -x "$d/initdb" ] && echo "$d"
}

# initdb refuses to run as root; as root, run the server as "postgres".
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	PG_BIN=$(pg_bindir) || true
	if [ -z "$PG_BIN" ]; then
		echo "pg: initdb not found: run make deps" >&2
		return 1
	fi
	if [ -n "${1:-}" ] && [ ${#1} -lt 80 ]; then	# a socket path has ~107 bytes
		PG_DIR=$1
		mkdir -p "$PG_DIR" || return 1
	else
		PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drip-pg.XXXXXX") || return 1
	fi
	[ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
	chmod 755 "$PG_DIR"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || {
		echo "pg: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; return 1; }
	# No TCP at all; durability traded for speed, as only tests use it.
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
		-o "-k $PG_DIR -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null || { echo "pg: cannot start:" >&2; cat "$PG_DIR/log" >&2; return 1; }
	PG_ADMIN_URL="host=$PG_DIR user=postgres dbname=postgres"
	export PG_DIR PG_BIN PG_ADMIN_URL
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}

# bench_database: the benchmarks' database, DATABASE_URL if it is set, or
# else the database "bench" of a throwaway server started here (then
# pg_bench_started=1, and bench_database_stop stops it at exit).
bench_database() {
	[ -z "${DATABASE_URL:-}" ] || { export DATABASE_URL; return 0; }
	pg_start || return 1
	pg_bench_started=1
	psql -X -q -d "$PG_ADMIN_URL" -c 'CREATE DATABASE bench' || return 1
	DATABASE_URL=$(printf '%s' "$PG_ADMIN_URL" | sed 's/dbname=postgres/dbname=bench/')
	export DATABASE_URL
}
bench_database_stop() { [ -z "${pg_bench_started:-}" ] || pg_stop; }
