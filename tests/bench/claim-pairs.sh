#!/bin/bash
# claim-pairs.sh REV_A REV_B T [ROUNDS [SERIES]]: drip.claim_due as of two
# commits, side by side on the database $DATABASE_URL (a benchmark database
# with steps due at T; bench-send.sh runs it when BENCH_CLAIM_AGAINST is
# set). Prints per claim of 100, in milliseconds:
#
#   interleaved  ROUNDS rounds in one session, each one rolled-back claim of
#                A and one of B (the order alternating): medians, 10th
#                percentiles and the ratio B/A of the medians;
#   series       SERIES pairs of bench-style series (a fresh session, 11
#                rolled-back claims, the median of the last 10; the order
#                alternating, VACUUM before each, both series of a pair on
#                the same CPU, the CPUs in turn): medians and each pair's
#                ratio.
#
# Each commit's function is the last migration of it that defines
# drip.claim_due, installed as drip.claim_a and drip.claim_b beside the
# real one, which is left alone. On a VM whose speed drifts by a quarter
# within minutes, separate runs cannot show a change of 10%; claims side
# by side can. Dropped again at exit.
set -u
[ $# -ge 3 ] || { echo "usage: claim-pairs.sh REV_A REV_B T [ROUNDS [SERIES]]" >&2; exit 64; }
top=$(cd "$(dirname "$0")/../.." && pwd)
rev_a=$1 rev_b=$2 t=$3 rounds=${4:-100} series=${5:-8}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }

install() {	# REV NAME
	local f
	f=$(git -C "$top" grep -l 'FUNCTION drip.claim_due(' "$1" -- lib/migrations |
		sed "s/^$1://" | sort | tail -n 1)
	[ -n "$f" ] || { echo "claim-pairs: no drip.claim_due at $1" >&2; exit 1; }
	git -C "$top" show "$1:$f" |
		sed -n '/^CREATE OR REPLACE FUNCTION drip.claim_due(/,/^END \$\$;/p' |
		sed "s/FUNCTION drip.claim_due(/FUNCTION drip.$2(/" | q >/dev/null ||
		{ echo "claim-pairs: cannot install $1:$f" >&2; exit 1; }
	echo "$f"
}
trap 'q -c "DROP FUNCTION IF EXISTS drip.claim_a, drip.claim_b" >/dev/null 2>&1' EXIT
fa=$(install "$rev_a" claim_a) || exit 1
fb=$(install "$rev_b" claim_b) || exit 1

pin() {	# CPU: the session's backend on that CPU only
	echo 'SELECT pg_backend_pid() AS pid \gset'
	echo '\setenv CLAIM_PAIRS_PID :pid'
	echo "\\! taskset -cp $1 \$CLAIM_PAIRS_PID >/dev/null"
}
claim() {	# NAME: one rolled-back claim, timed by EXPLAIN ANALYZE
	printf "BEGIN;\n\\\\echo %s\nEXPLAIN (ANALYZE) SELECT * FROM drip.%s('bench', '%s', 100, '5 minutes');\nROLLBACK;\n" \
		"$1" "$1" "$t"
}
times() {	# psql output -> "NAME MS" lines
	awk '/^claim_[ab]$/ { n = $1; next } /Execution Time/ { print n, $3 }'
}
stats() {	# python: per name median, p10; then the ratio b/a of the medians
	python3 -c '
import sys, statistics as st
d = {}
for l in sys.stdin:
    n, v = l.split(); d.setdefault(n, []).append(float(v))
for n in sorted(d):
    v = d[n]; print("  %s: median %.2f, 10th percentile %.2f, of %d" % (n, st.median(v), st.quantiles(v, n=10)[0], len(v)))
print("  ratio b/a of the medians: %.3f" % (st.median(d["claim_b"]) / st.median(d["claim_a"])))'
}

echo "claim_a: $rev_a ($fa); claim_b: $rev_b ($fb); claims of 100 at $t"
q -c 'VACUUM drip.email_campaign_prospect_step'
echo "interleaved, $rounds rounds in one session (the first 3 dropped):"
{ for i in $(seq "$rounds"); do
	if [ $((i % 2)) = 0 ]; then claim claim_a; claim claim_b; else claim claim_b; claim claim_a; fi
	# the rolled-back versions of the same 100 steps pile up otherwise
	[ $((i % 25)) = 0 ] && echo 'VACUUM drip.email_campaign_prospect_step;'
  done; } | q | times | awk 'NR > 6' | stats

echo "series, $series pairs (each a fresh session, 11 claims, the median of the last 10):"
pairs='' lines='' ma=0 mb=0
for i in $(seq "$series"); do
	if [ $((i % 2)) = 0 ]; then o="claim_a claim_b"; else o="claim_b claim_a"; fi
	for n in $o; do
		q -c 'VACUUM drip.email_campaign_prospect_step'
		m=$({ pin $((i % $(nproc))); for _ in $(seq 11); do claim "$n"; done; } | q | times | tail -n 10 |
			awk '{ print $2 }' | sort -n | awk '{ a[NR] = $1 } END { print (a[5] + a[6]) / 2 }')
		if [ "$n" = claim_a ]; then ma=$m; else mb=$m; fi
		lines="$lines$n $m
"
	done
	pairs="$pairs $(python3 -c "print('%.3f' % ($mb / $ma))")"
done
printf '%s' "$lines" | stats
echo "  each pair's ratio b/a:$pairs"
