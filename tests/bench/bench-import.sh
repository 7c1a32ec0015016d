#!/bin/sh
# bench-import.sh [ROWS [REPS]]: prospect-import against psql's own \copy.
#
# Loads ROWS generated prospects (default 1,000,000) into an empty draft
# campaign three times, each into an emptied drip.email_campaign_prospect
# with all its indexes and constraints: with psql -c '\copy ...' (the bulk
# load PostgreSQL itself offers), with prospect-import --csv, and with
# prospect-import reading JSON Lines. Prints wall time, the ratio to psql,
# and peak memory (/usr/bin/time -v). Goal: ratio <= 1.25, memory <= 32 MiB.
# Each load runs REPS times (default 3), the three interleaved, so that a
# busy machine slows all of them alike; best and median times are shown.
#
# ENTRIES=N gives the customer N suppression entries first (N/100 of them
# domains that cover about one prospect in fifty), so that the import does
# its suppression join; psql's \copy does no such work.
#
# BASE=DIR also runs the two imports with the binaries in DIR/bin (another
# build, say of main), interleaved with the others: before and after under
# the same load.
#
# Not part of make check: it takes a while. Uses a throwaway PostgreSQL
# (tests/pg.sh) unless DATABASE_URL names a database to use (it is changed).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export PATH="$O/bin:$PATH"
rows=${1:-1000000}
reps=${2:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/drip-bench.XXXXXX")

. "$top/tests/pg.sh"
cleanup() { rm -rf "$work"; bench_database_stop; return 0; }
trap cleanup EXIT
bench_database
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1"; }

db-migrate -q
q "INSERT INTO drip.email_identity (customer_id, email) VALUES ('bench', 'me@bench.test')"
camp=$(q "INSERT INTO drip.email_campaign (customer_id, identity_id, name)
	SELECT 'bench', id, 'bench' FROM drip.email_identity RETURNING id")

if [ "${ENTRIES:-0}" -gt 0 ]; then
	awk -v n="$ENTRIES" 'BEGIN { d = int(n / 100)
		for (i = 1; i <= n - d; i++) print "someone" i "@elsewhere" i ".example"
		for (k = 1; k <= d; k++) print "company" (k * 50) ".example" }' |
		suppress add -q --customer bench
fi

# The same rows three ways. A third have a time zone; all have a custom field.
echo "generating $rows rows" >&2
awk -v n="$rows" -v camp="$camp" -v dir="$work" 'BEGIN {
	split("Europe/Berlin America/New_York Asia/Tokyo", tz, " ")
	split("fintech retail health logistics", ind, " ")
	csv = dir "/p.csv"; jsonl = dir "/p.jsonl"; pg = dir "/pg.csv"
	print "email,first_name,last_name,company,title,timezone,industry" > csv
	print "customer_id,campaign_id,email,first_name,last_name,company,title,timezone,fields" > pg
	for (i = 1; i <= n; i++) {
		e = "person" i "@company" (i % 50000) ".example"
		f = "First" i; l = "Last" (i % 997); c = "Company " (i % 50000)
		t = "Head of Sales"; z = (i % 3 == 0) ? tz[i % 9 / 3 + 1] : ""
		d = ind[i % 4 + 1]
		print e "," f "," l "," c "," t "," z "," d > csv
		printf "{\"email\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\",\"company\":\"%s\",\"title\":\"%s\"%s,\"fields\":{\"industry\":\"%s\"}}\n", \
			e, f, l, c, t, (z != "" ? ",\"timezone\":\"" z "\"" : ""), d > jsonl
		print "bench," camp "," e "," f "," l "," c "," t "," z ",\"{\"\"industry\"\": \"\"" d "\"\"}\"" > pg
	}
}'

reset() {
	q "SET client_min_messages = warning; TRUNCATE drip.email_campaign_prospect CASCADE"
	q "VACUUM ANALYZE drip.email_campaign_prospect"
	q "CHECKPOINT"
}

# measure NAME CMD...: appends "seconds rss_kib cpu_seconds" to $work/NAME.times
# (cpu: user + system of the command, robust to a busy machine)
measure() {
	name=$1; shift
	reset
	/usr/bin/time -v -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
		echo "$name failed:" >&2; cat "$work/err" >&2; exit 1; }
	got=$(q "SELECT count(*) FROM drip.email_campaign_prospect")
	[ "$got" -eq "$rows" ] || { echo "$name: $got rows, expected $rows" >&2; exit 1; }
	awk -F': ' '/Elapsed \(wall clock\)/ {
		n = split($2, p, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + p[i]
	}
	/Maximum resident set size/ { rss = $2 }
	/User time \(seconds\)|System time \(seconds\)/ { cpu += $2 }
	END { print s, rss, cpu }' "$work/time" >>"$work/$name.times"
	echo "$name: $(tail -n 1 "$work/$name.times") (s, KiB, cpu s); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

i=0
while [ $i -lt "$reps" ]; do
	i=$((i + 1))
	measure psql psql -X -q -d "$DATABASE_URL" -c "\\copy drip.email_campaign_prospect (customer_id, campaign_id, email, first_name, last_name, company, title, timezone, fields) FROM '$work/pg.csv' WITH (FORMAT csv, HEADER true)"
	measure csv sh -c "prospect-import --campaign $camp --csv < '$work/p.csv'"
	measure jsonl sh -c "prospect-import --campaign $camp < '$work/p.jsonl'"
	if [ -n "${BASE:-}" ]; then
		measure csv-base sh -c "'$BASE/bin/prospect-import' --campaign $camp --csv < '$work/p.csv'"
		measure jsonl-base sh -c "'$BASE/bin/prospect-import' --campaign $camp < '$work/p.jsonl'"
	fi
done

# stats NAME: best median peak-rss median-cpu-seconds
med() { sort -n | awk '{ t[NR] = $1 }
	END { printf "%.2f", NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }
stats() {
	sort -n "$work/$1.times" | awk '{ t[NR] = $1; if ($2 > m) m = $2 }
	END { printf "%.2f %.2f %d", t[1], (NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2), m }'
	printf ' %s' "$(cut -d' ' -f3 "$work/$1.times" | med)"
}
set -- $(stats psql); pb=$1 pm=$2
printf '%s prospects, %s runs each, %s suppression entries; load %s\n' "$rows" "$reps" \
	"${ENTRIES:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %8s %8s %7s %7s %10s %8s\n' "" best median ratio ratio "peak RSS" "CPU"
printf '%-30s %8s %8s %7s %7s %10s %8s\n' "" s s best median KiB "s/M rows"
for n in psql csv jsonl ${BASE:+csv-base jsonl-base}; do
	set -- $(stats $n)
	case $n in
	psql)	label="psql \\copy" ;;
	csv)	label="prospect-import --csv" ;;
	jsonl)	label="prospect-import (JSON Lines)" ;;
	csv-base) label="  base: --csv" ;;
	jsonl-base) label="  base: JSON Lines" ;;
	esac
	printf '%-30s %8.2f %8.2f %7.2f %7.2f %10d %8.2f\n' "$label" "$1" "$2" \
		"$(echo "$1 $pb" | awk '{ print $1 / $2 }')" \
		"$(echo "$2 $pm" | awk '{ print $1 / $2 }')" "$3" \
		"$(echo "$4 $rows" | awk '{ print $1 * 1000000 / $2 }')"
done
