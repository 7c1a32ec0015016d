#!/bin/sh
# tests/debug.sh TEST: run one test file verbosely on a throwaway cluster.
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export DRIP_TOP="$top" DRIP_BUILD="$O" PATH="$O/bin:$PATH"
. "$top/tests/pg.sh"
if [ -z "${DATABASE_URL:-}" ]; then
	pg_start || exit 1
	trap pg_stop EXIT
	export DRIP_TEST_ADMIN_URL="$PG_ADMIN_URL"
else
	export DRIP_TEST_ADMIN_URL="$DATABASE_URL"
fi
unset DATABASE_URL
"$@"
