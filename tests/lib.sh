# lib.sh: TAP helpers for drip's shell tests (sourced by tests/t*.t).
#
#   plan N                      how many tests this file runs
#   ok DESC CMD...              passes when CMD exits 0
#   is GOT EXPECTED DESC        passes when the strings are equal
#   like GOT REGEX DESC         passes when GOT matches the extended regex
#   must_fail CODE DESC CMD...  passes when CMD exits with CODE exactly
#                               (a crash or a signal never passes)
#   run CMD...                  runs CMD: $out, $err, $rc
#   db_fresh [--empty]          a database of its own, migrated unless --empty
#   sql SQL [PSQL-ARGS]         psql -At on it (-v name=value for :'name')
#   rows TABLE [WHERE]          count(*) of drip.TABLE
#   table_counts                one line with the row count of every drip table
#
# $T is a temporary folder removed at exit. Tools come first on PATH from
# the build. VALGRIND=1 runs every tool under valgrind.
set -u
DRIP_TOP=${DRIP_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
DRIP_BUILD=${DRIP_BUILD:-$DRIP_TOP/build}
export PATH="$DRIP_BUILD/bin:$PATH"
export LC_ALL=C.UTF-8
unset ENABLE_EMAIL_SCHEDULER DRIP_NOW

T=$(mktemp -d "${TMPDIR:-/tmp}/drip-t.XXXXXX")
_tap_n=0
_tap_planned=0
_tap_failed=0
_tap_db=
_tap_cleanups=

at_exit() { _tap_cleanups="$_tap_cleanups
$*"; }

_tap_end() {
	rc=$?
	eval "$_tap_cleanups" >/dev/null 2>&1
	if [ -n "$_tap_db" ] && [ -z "${DRIP_TEST_KEEP:-}" ]; then
		psql -X -q -d "$DRIP_TEST_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$_tap_db\" WITH (FORCE)" >/dev/null 2>&1
	fi
	rm -rf "$T"
	if [ "$_tap_n" -ne "$_tap_planned" ]; then
		echo "# planned $_tap_planned tests but ran $_tap_n"
		exit 1
	fi
	[ "$_tap_failed" -eq 0 ] || exit 1
	exit $rc
}
trap _tap_end EXIT

plan() { _tap_planned=$1; echo "1..$1"; }
diag() { printf '# %s\n' "$@"; }

_tap_result() {	# status desc
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

skip() {	# why n: n tests that cannot run here, as TAP's SKIP
	_s=0
	while [ "$_s" -lt "$2" ]; do
		_s=$((_s + 1)) _tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP $1"
	done
}

ok() {
	_d=$1; shift
	"$@" >"$T/.ok.out" 2>&1
	_r=$?
	_tap_result $_r "$_d"
	[ $_r -eq 0 ] || { diag "command: $*" "exit: $_r"; sed 's/^/#   /' "$T/.ok.out" | head -20; }
	return $_r
}

is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "got:      $(printf '%s' "$1" | head -c 2000)" "expected: $(printf '%s' "$2" | head -c 2000)"
		return 1
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "got:      $(printf '%s' "$1" | head -c 2000)" "expected to match: $2"
		return 1
	fi
}

run() {
	out=$("$@" 2>"$T/.run.err")
	rc=$?
	err=$(cat "$T/.run.err")
	return 0
}

must_fail() {
	_code=$1 _d=$2; shift 2
	run "$@"
	if [ "$rc" -eq "$_code" ]; then
		_tap_result 0 "$_d"
	else
		_tap_result 1 "$_d"
		diag "command: $*" "exit: $rc, expected $_code" "stderr: $err"
		return 1
	fi
}

_db_url_for() {	# admin-url dbname
	case $1 in
	postgres://*|postgresql://*)
		_base=${1%%\?*}
		_query=${1#"$_base"}
		_host=$(printf '%s' "$_base" | sed -E 's|^(postgres(ql)?://[^/]*).*|\1|')
		printf '%s/%s%s' "$_host" "$2" "$_query" ;;
	*)	printf '%s dbname=%s' "$1" "$2" ;;
	esac
}

db_fresh() {
	: "${DRIP_TEST_ADMIN_URL:?run the tests with make check or tests/run}"
	_tap_db=$(basename "$0" .t | tr -c 'a-z0-9\n' '_')_$$
	psql -X -q -d "$DRIP_TEST_ADMIN_URL" -c "CREATE DATABASE \"$_tap_db\"" >/dev/null || {
		echo "Bail out! cannot create database $_tap_db"; exit 1; }
	DATABASE_URL=$(_db_url_for "$DRIP_TEST_ADMIN_URL" "$_tap_db")
	export DATABASE_URL
	if [ "${1:-}" != --empty ]; then
		db-migrate -q || { echo "Bail out! db-migrate failed"; exit 1; }
	fi
}

sql() {
	_q=$1; shift
	printf '%s\n' "$_q" | psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"
}

rows() {
	sql "SELECT count(*) FROM drip.$1 ${2:+WHERE $2}"
}

# wait_sql SQL [EXPECTED [SECONDS]]: poll until SQL answers EXPECTED (t),
# for SECONDS (20) at most; false if it never did.
wait_sql() {
	_w=$(( ${3:-20} * 20 ))
	until [ "$(sql "$1")" = "${2:-t}" ]; do
		_w=$((_w - 1))
		[ $_w -gt 0 ] || return 1
		sleep 0.05
	done
}

table_counts() {
	sql "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
		SELECT 'identity' t, count(*) n FROM drip.email_identity UNION ALL
		SELECT 'campaign', count(*) FROM drip.email_campaign UNION ALL
		SELECT 'template', count(*) FROM drip.email_campaign_template UNION ALL
		SELECT 'prospect', count(*) FROM drip.email_campaign_prospect UNION ALL
		SELECT 'step', count(*) FROM drip.email_campaign_prospect_step UNION ALL
		SELECT 'event', count(*) FROM drip.email_event UNION ALL
		SELECT 'metadata', count(*) FROM drip.email_message_metadata UNION ALL
		SELECT 'suppression', count(*) FROM drip.suppression_entry) c"
}

# VALGRIND=1: put wrappers that run each tool under valgrind first on PATH.
if [ -n "${VALGRIND:-}" ]; then
	mkdir -p "$T/vg"
	for _t in "$DRIP_BUILD"/bin/*; do
		cat >"$T/vg/${_t##*/}" <<VG
#!/bin/sh
# valgrind keeps its own files in TMPDIR: a test that points the tool at a
# missing TMPDIR gets the tool alone.
[ -z "\${TMPDIR:-}" ] || [ -d "\$TMPDIR" ] || exec "$_t" "\$@"
exec valgrind -q --error-exitcode=126 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite "$_t" "\$@"
VG
		chmod +x "$T/vg/${_t##*/}"
	done
	export PATH="$T/vg:$PATH"
fi
