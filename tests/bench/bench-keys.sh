#!/bin/sh
# bench-keys.sh [ROUNDS]: what a table's keys cost its writes, before and
# after migrations 015 and 017.
#
# Builds two copies of drip.email_campaign_prospect (200,000 rows) and two
# of drip.email_campaign_prospect_step (200,000 rows): "before" with the
# keys of migration 014 (a primary key on id beside unique (customer_id,
# id) and, for prospects, unique (customer_id, campaign_id, id)), "after"
# with the one composite primary key that replaced them; every other index
# as it is. Then, in turn in one session (ROUNDS each, default 60), the
# writes that pay for each index:
#   - 200 adjacent prospects updated as mark_sent updates them, in pages
#     with no room for the new versions (not HOT);
#   - 5,000 prospects inserted, as an import does;
#   - 100 steps claimed (scheduled to claimed with worker, lease, mailbox).
# Each write is rolled back. Prints the medians and the ratio after/before.
#
# Not part of make check. Uses a throwaway PostgreSQL (tests/pg.sh) unless
# DATABASE_URL names a database to use (it gets the tables keys_*).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export PATH="$O/bin:$PATH"
rounds=${1:-60}

. "$top/tests/pg.sh"
cleanup() { bench_database_stop; return 0; }
trap cleanup EXIT
bench_database
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }

db-migrate -q
q <<'EOF'
SET client_min_messages = warning;
DROP TABLE IF EXISTS keys_p_before, keys_p_after, keys_s_before, keys_s_after;
CREATE TABLE keys_p_before (LIKE drip.email_campaign_prospect INCLUDING DEFAULTS);
CREATE TABLE keys_p_after (LIKE drip.email_campaign_prospect INCLUDING DEFAULTS);
ALTER TABLE keys_p_before ADD PRIMARY KEY (id), ADD UNIQUE (customer_id, id),
	ADD UNIQUE (customer_id, campaign_id, id);
ALTER TABLE keys_p_after ADD PRIMARY KEY (id, customer_id, campaign_id);
CREATE UNIQUE INDEX ON keys_p_before (campaign_id, lower(email));
CREATE UNIQUE INDEX ON keys_p_after (campaign_id, lower(email));
INSERT INTO keys_p_before (id, customer_id, campaign_id, email)
	SELECT g, 'acme', 1 + g / 1000, 'p' || g || '@example.com'
	FROM generate_series(1, 200000) g;
INSERT INTO keys_p_after SELECT * FROM keys_p_before;

CREATE TABLE keys_s_before (LIKE drip.email_campaign_prospect_step INCLUDING DEFAULTS)
	WITH (fillfactor = 80);
CREATE TABLE keys_s_after (LIKE drip.email_campaign_prospect_step INCLUDING DEFAULTS)
	WITH (fillfactor = 80);
ALTER TABLE keys_s_before ADD PRIMARY KEY (id), ADD UNIQUE (customer_id, id),
	ADD UNIQUE (prospect_id, step);
ALTER TABLE keys_s_after ADD PRIMARY KEY (id, customer_id), ADD UNIQUE (prospect_id, step);
INSERT INTO keys_s_before (id, customer_id, campaign_id, prospect_id, step, due_at)
	SELECT g, 'acme', 1 + g / 1000, g, 1, now() - interval '1 hour'
	FROM generate_series(1, 200000) g;
INSERT INTO keys_s_after SELECT * FROM keys_s_before;
VACUUM ANALYZE keys_p_before, keys_p_after, keys_s_before, keys_s_after;
CHECKPOINT;
EOF
for t in keys_s_before keys_s_after; do
	q -c "CREATE INDEX ON $t (due_at) WHERE status = 'scheduled'" \
	  -c "CREATE INDEX ON $t (lease_until) WHERE status IN ('claimed', 'sending')" \
	  -c "CREATE INDEX ON $t (campaign_id, due_at) WHERE status = 'scheduled'" \
	  -c "CREATE INDEX ON $t (campaign_id, status, claimed_at)" \
	  -c "CREATE INDEX ON $t (identity_id, claimed_at) WHERE claimed_at IS NOT NULL
		AND status IN ('scheduled', 'failed', 'suppressed', 'skipped')"
done

stats() {	# lines "NAME ms": the medians of *_before and *_after, and their ratio
	python3 -c '
import sys, statistics as st
d = {}
for l in sys.stdin:
    n, v = l.split(); d.setdefault(n, []).append(float(v))
b, a = st.median(d["before"]), st.median(d["after"])
print("  %s: before %.3f ms, after %.3f ms, after/before %.3f (%d each)" % (sys.argv[1], b, a, a / b, len(d["before"])))' "$1"
}
each() {	# LABEL SQL: ROUNDS of SQL on before and after (@ in its table's
	# name), in turn, rolled back; N in it is a row id that moves each round
	i=0
	while [ $i -lt "$rounds" ]; do
		i=$((i + 1))
		if [ $((i % 2)) = 0 ]; then o="before after"; else o="after before"; fi
		for w in $o; do
			printf '\\echo %s\nBEGIN;\nEXPLAIN ANALYZE %s;\nROLLBACK;\n' "$w" \
			    "$(printf '%s' "$2" | sed "s/@/$w/; s/\bN\b/$(( (i * 2003) % 190000 + 1 ))/g")"
		done
	done | q | awk '/^(before|after)$/ { n = $1; next } /Execution Time/ { print n, $3 }' |
		stats "$1"
}

echo "keys: $rounds rounds each, in turn, rolled back; PostgreSQL $(q -c 'SHOW server_version')"
each "prospects: update of 200 adjacent, not HOT" \
	"UPDATE keys_p_@ SET last_step = last_step + 1, last_sent_at = now(), status = 'active' WHERE id BETWEEN N AND N + 199"
each "prospects: insert of 5,000" \
	"INSERT INTO keys_p_@ (id, customer_id, campaign_id, email) SELECT g, 'acme', 999, 'n' || g || '.example.com' FROM generate_series(300001, 305000) g"
each "steps: claim of 100" \
	"UPDATE keys_s_@ SET status = 'claimed', claimed_by = 'w', claimed_at = now(), lease_until = now() + interval '5 minutes', identity_id = 1, updated_at = now() WHERE id BETWEEN N AND N + 99 AND status = 'scheduled'"
