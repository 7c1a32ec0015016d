# common.sh: what the benchmarks share (bash; sourced by tests/bench/bench-*.sh).
#
#   bench_setup               PostgreSQL (throwaway, pg_stat_statements), the
#                             schema, the mock; exports DATABASE_URL, MOCK_*
#   connect_mailboxes N       connect m0001..mN@acme.example with outlook-auth
#   seed NAME N DUE           N steps due at DUE over all mailboxes (seed.sql)
#   pg_ticks, pid_ticks PID   CPU ticks so far (PostgreSQL's: every backend)
#   load                      the 1-minute load average
#   timed OUT CMD...          CMD under /usr/bin/time -v; OUT.time has its report
#   median N...               the median of numbers
#   say FMT ARGS...           a line of the report (stdout, and $BENCH_LOG)
#   server_pages              how the server's shared memory is paged
#   fault_us                  what a first touch of a 4 kB page costs here
#
# BENCH_HUGE_PAGES=N (root): vm.nr_hugepages is N for the run (the old value
# comes back at exit) and the server starts with huge_pages=on, so it fails
# rather than fall back to 4 kB pages. 300 covers shared_buffers=512MB.
# Everything runs in $BENCH_DIR (a fresh temporary folder), removed at exit
# unless BENCH_KEEP=1.
set -u
bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$bench_top/$O ;; esac
export PATH="$O/bin:$PATH"
export LC_ALL=C.UTF-8
unset ENABLE_EMAIL_SCHEDULER DRIP_NOW
. "$bench_top/tests/pg.sh"
. "$bench_top/tests/mock-graph/mock.sh"

# The mock and the peer hold a socket for each connection, 1,024 and more
# in the latency section: past a shell's usual soft limit of 1,024 open
# files (send-due raises its own, send-due(1)).
[ "$(ulimit -S -n)" = unlimited ] || [ "$(ulimit -S -n)" -ge 8192 ] ||
	ulimit -S -n 8192 2>/dev/null || ulimit -S -n hard

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drip-bench.XXXXXX")
chmod 755 "$BENCH_DIR"
BENCH_LOG=${BENCH_LOG:-}
HZ=$(getconf CLK_TCK)
HUGE=${BENCH_HUGE_PAGES:-}
huge_before=

bench_cleanup() {
	mock_tls_stop >/dev/null 2>&1
	mock_stop >/dev/null 2>&1
	pg_stop
	[ -z "$huge_before" ] || echo "$huge_before" >/proc/sys/vm/nr_hugepages
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

say() {
	# shellcheck disable=SC2059
	printf "$@"
	printf '\n'
	# shellcheck disable=SC2059
	[ -z "$BENCH_LOG" ] || { printf "$@"; printf '\n'; } >>"$BENCH_LOG"
}
die() { echo "bench: $*" >&2; exit 1; }

load() { cut -d' ' -f1 /proc/loadavg; }

# CPU ticks of one process (and of its children it has waited for).
pid_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# PostgreSQL's CPU: the postmaster, every live backend, and those that
# ended (their time is in the postmaster's children's fields). Read while
# the backends of a client that just exited were ending, a backend could
# fall between the two (gone from the children, not yet reaped into the
# postmaster's fields): runs reported 0.003-0.094 s per 1,000 sends so.
# So first those backends are let go.
pg_ticks() {
	local pm t c
	backends_gone
	pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	t=$(pid_ticks "$pm")
	for c in $(pgrep -P "$pm"); do
		[ -r "/proc/$c/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# Until no client backend but this query's is left (at most 5 s), and a
# moment for the postmaster to reap the last.
backends_gone() {
	local _
	for _ in $(seq 100); do
		[ "$(psql_q -c "SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" = 0 ] && break
		sleep 0.05
	done
	sleep 0.1
}

# timed OUT CMD...: stdout to OUT, stderr to OUT.err, /usr/bin/time to OUT.time
timed() {
	local out=$1; shift
	/usr/bin/time -v -o "$out.time" "$@" >"$out" 2>"$out.err"
}
time_field() {	# OUT NAME: a field of /usr/bin/time -v's report
	sed -n "s/^[[:space:]]*$2: //p" "$1.time"
}
cpu_seconds() { calc "$(time_field "$1" 'User time (seconds)') + $(time_field "$1" 'System time (seconds)')"; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fmt() { printf "%.${2:-0}f" "$1"; }	# NUMBER [DECIMALS]
calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }

huge_pages_reserve() {
	local n
	huge_before=$(cat /proc/sys/vm/nr_hugepages)
	echo "$HUGE" 2>/dev/null >/proc/sys/vm/nr_hugepages ||
		die "BENCH_HUGE_PAGES: cannot set vm.nr_hugepages (not root?)"
	n=$(cat /proc/sys/vm/nr_hugepages)
	[ "$n" -ge "$HUGE" ] || die "BENCH_HUGE_PAGES: the kernel found $n huge pages of $HUGE"
}

# The server's shared memory: in huge pages, or in 4 kB pages that each
# backend faults in as it first touches them (buffers, the WAL ring).
server_pages() {
	local pm
	pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	if grep -q '^KernelPageSize: *2048 kB' "/proc/$pm/smaps"; then
		echo "in 2 MB huge pages (vm.nr_hugepages $(cat /proc/sys/vm/nr_hugepages))"
	else
		echo "in 4 kB pages (vm.nr_hugepages $(cat /proc/sys/vm/nr_hugepages))"
	fi
}

# The median of 3 timings of first touches of 20,000 fresh pages, in us: a
# few tenths of a us on bare metal, 13-18 on the VM these figures come from
# (and hundreds while both its vCPUs are busy), where it is a visible part
# of a claim (tests/bench/README.md).
fault_us() {
	python3 -c '
import mmap, time, statistics
def once(n=20000):
    m = mmap.mmap(-1, n * 4096)
    t = time.perf_counter()
    for i in range(0, n * 4096, 4096):
        m[i] = 1
    return (time.perf_counter() - t) / n * 1e6
print("%.1f" % statistics.median(once() for _ in range(3)))'
}

bench_setup() {
	local conf
	[ -z "$HUGE" ] || huge_pages_reserve
	pg_start "$BENCH_DIR/pg" || die "PostgreSQL did not start"
	# pg_start's cluster, restarted with pg_stat_statements and room for
	# the many connections of outlook-auth and the peer.
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
	conf="-k $PG_DIR -c listen_addresses= -c max_connections=400 -c shared_buffers=512MB"
	conf="$conf -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
	if [ -n "${BENCH_DURABLE:-}" ]; then
		conf="$conf -c fsync=on -c synchronous_commit=on"
	else
		conf="$conf -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	[ -z "$HUGE" ] || conf="$conf -c huge_pages=on"
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 -o "$conf" start \
		>/dev/null || { cat "$PG_DIR/log" >&2; die "PostgreSQL did not restart"; }
	psql -X -q -d "$PG_ADMIN_URL" -c "CREATE DATABASE bench" >/dev/null || die "CREATE DATABASE"
	export DATABASE_URL="host=$PG_DIR user=postgres dbname=bench"
	export PEER_DB="postgresql://postgres@/bench?host=$PG_DIR"
	db-migrate -q || die "db-migrate failed"
	psql_q -c "CREATE EXTENSION pg_stat_statements" || die "pg_stat_statements"

	MOCK_DIR=$BENCH_DIR/mock
	mkdir -p "$MOCK_DIR"
	mock_start --interval 0 || die "mock-graph did not start"
	export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000be4c
	export DRIP_KEY_FILE=$BENCH_DIR/drip.key
	head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
	chmod 600 "$DRIP_KEY_FILE"
}

# connect_mailboxes N: the device flow of outlook-auth for m0001..mN, up to
# 150 at a time; the mock's pending codes are approved in one curl run.
connect_mailboxes() {
	local i=1 last=$1 k j n pids
	while [ "$i" -le "$last" ]; do
		k=$((last - i + 1))
		[ $k -gt 150 ] && k=150
		pids=
		for j in $(seq $k); do
			outlook-auth -q --customer acme >>"$BENCH_DIR/connected" 2>>"$BENCH_DIR/connect.err" &
			pids="$pids $!"
		done
		n=0
		for j in $(seq 600); do
			n=$(curl -s "$MOCK_URL/_mock/devicecodes" | jq '[.[] | select(.state == "pending")] | length')
			[ "$n" -ge "$k" ] && break
			sleep 0.05
		done
		[ "$n" -ge "$k" ] || die "only $n of $k device codes pending"
		curl -s "$MOCK_URL/_mock/devicecodes" |
		jq -r --argjson i "$i" --arg url "$MOCK_URL/_mock/devicecode/approve" '
			[.[] | select(.state == "pending")] | to_entries[] |
			"url = \"\($url)\"\nheader = \"Content-Type: application/json\"\n" +
			"data = \"" + ({user_code: .value.user_code,
			    email: ("m" + ("000" + (.key + $i | tostring))[-4:] + "@acme.example")}
			    | tojson | gsub("\""; "\\\"")) + "\"\noutput = \"/dev/null\"\n"' |
		sed '$!s/^$/next/' >"$BENCH_DIR/approve.curl"
		curl -s -f -K "$BENCH_DIR/approve.curl" || die "approving device codes failed"
		# shellcheck disable=SC2086
		wait $pids || die "outlook-auth failed: $(tail -n 3 "$BENCH_DIR/connect.err")"
		i=$((i + k))
	done
	# Rate limits and caps out of the way: the benchmark measures drip.
	psql_q -c "UPDATE drip.email_identity SET rate_per_minute = 10000, daily_cap = 1000000"
}

seed() {	# NAME N DUE
	psql_q -v name="$1" -v n="$2" -v due="$3" -f "$bench_top/tests/bench/seed.sql" >/dev/null ||
		die "seeding $1 failed"
}

# An RFC 3339 time, minutes from now (whole minutes).
at_minutes() { date -u -d "${1} minutes" +%Y-%m-%dT%H:%M:00Z; }

mock_sent() { curl -s "$MOCK_URL/_mock/health" | jq .sent; }
