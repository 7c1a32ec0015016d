#!/bin/sh
# bench-suppress.sh [ENTRIES [CHECKS]]: the cost of "is it suppressed".
#
# Gives customer "big" ENTRIES suppression entries (default 1,000,000: nine
# addresses to one domain), loaded with suppress add from standard input,
# and customer "small" ten. Then checks CHECKS addresses (default 10,000;
# a third covered by an address entry, a third by a domain entry, a third
# not at all) against each with suppress check, one lookup each through
# suppress_lookup(), and prints the time per check: it should not depend on
# the size of the list.
#
# Not part of make check. Uses a throwaway PostgreSQL (tests/pg.sh) unless
# DATABASE_URL names a database to use (it is changed).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export PATH="$O/bin:$PATH"
entries=${1:-1000000}
checks=${2:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/drip-bench.XXXXXX")

. "$top/tests/pg.sh"
cleanup() { rm -rf "$work"; bench_database_stop; return 0; }
trap cleanup EXIT
bench_database
db-migrate -q

now() { date +%s.%N; }
elapsed() { echo "$1 $(now)" | awk '{ printf "%.3f", $2 - $1 }'; }

awk -v n="$entries" 'BEGIN {
	for (i = 1; i <= n; i++)
		if (i % 10 == 0) print "d" i ".example"
		else print "user" i "@company" (i % 50000) ".example"
}' >"$work/entries"
t=$(now)
suppress add -q --customer big --source bench <"$work/entries"
load=$(elapsed "$t")
# customer "small": five addresses and five domains
awk 'BEGIN { for (i = 1; i <= 5; i++) print "user" i "@company" i ".example"
	for (i = 1; i <= 5; i++) print "d" i ".example" }' |
	suppress add -q --customer small
psql -X -q -d "$DATABASE_URL" -c 'ANALYZE drip.suppression_entry'

# The same mix for both: a third suppressed by an address, a third by a
# domain (a subdomain of an entry), a third not suppressed. A suppressed
# value costs a second query, to print its entry.
awk -v n="$checks" -v e="$entries" 'BEGIN {
	srand(1)
	for (i = 1; i <= n; i++) {
		k = int(rand() * (e / 10)) * 10
		if (i % 3 == 0) print "user" (k + 1) "@company" ((k + 1) % 50000) ".example"
		else if (i % 3 == 1) print "x" i "@mail.d" (k + 10) ".example"
		else print "nobody" i "@elsewhere" i ".example"
	}
}' >"$work/checks.big"
awk -v n="$checks" 'BEGIN {
	for (i = 1; i <= n; i++) {
		k = i % 5 + 1
		if (i % 3 == 0) print "user" k "@company" k ".example"
		else if (i % 3 == 1) print "x" i "@mail.d" k ".example"
		else print "nobody" i "@elsewhere" i ".example"
	}
}' >"$work/checks.small"

check() {	# customer -> seconds, suppressed count
	t=$(now)
	suppress check --customer "$1" <"$work/checks.$1" >"$work/out.$1" || [ $? -eq 1 ]
	secs=$(elapsed "$t")
	hits=$(grep -c '"suppressed":true' "$work/out.$1" || true)
}
check big; big_secs=$secs big_hits=$hits
check small; small_secs=$secs small_hits=$hits

plan=$(psql -X -At -d "$DATABASE_URL" -c "EXPLAIN (ANALYZE, COSTS off, SUMMARY off, TIMING off)
	SELECT s.id FROM drip.suppression_entry s WHERE s.customer_id = 'big'
	AND s.value = ANY (drip.suppression_keys('x1@mail.d10.example'))" | head -n 2 | tr -s ' ' | tr '\n' ';')

printf 'loaded %s entries with suppress add in %s s (%.0f entries/s)\n' "$entries" "$load" \
	"$(echo "$entries $load" | awk '{ print $1 / $2 }')"
printf '%-32s %8s %10s %12s\n' '' checks suppressed 'us per check'
printf '%-32s %8d %10d %12.1f\n' "customer with $entries entries" "$checks" "$big_hits" \
	"$(echo "$big_secs $checks" | awk '{ print $1 / $2 * 1e6 }')"
printf '%-32s %8d %10d %12.1f\n' "customer with 10 entries" "$checks" "$small_hits" \
	"$(echo "$small_secs $checks" | awk '{ print $1 / $2 * 1e6 }')"
echo "plan: $plan"
