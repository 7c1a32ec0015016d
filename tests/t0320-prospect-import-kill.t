#!/bin/sh
# prospect-import is one transaction: killed with SIGKILL while streaming
# or while writing, it leaves the campaign exactly as it was.
. "$(dirname "$0")/lib.sh"
plan 12

db_fresh
sql "INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'me@acme.test')"
campaign=$(sql "INSERT INTO drip.email_campaign (customer_id, identity_id, name, status)
	SELECT 'acme', id, 'c', 'running' FROM drip.email_identity RETURNING id")
sql "INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	VALUES ('acme', $campaign, 1, 'Hi', 'Hello')"
gen() {	# first last -> JSON Lines
	awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
		printf "{\"email\":\"p%d@example.com\",\"first_name\":\"P%d\"}\n", i, i }'
}
gen 1 3 | prospect-import --campaign "$campaign" >/dev/null
before=$(table_counts)
snapshot() {
	sql "SELECT string_agg(id || ':' || email || ':' || coalesce(first_name, '') || ':' || status, ' ' ORDER BY id)
		FROM drip.email_campaign_prospect"
}
prospects=$(snapshot)

ours="datname = current_database() AND pid <> pg_backend_pid()"

# 1. Killed halfway through the input: 20,000 rows sent, then the writer waits.
mkfifo "$T/fifo"
(gen 1001 21000; exec sleep 60) >"$T/fifo" & writer=$!
at_exit kill $writer
prospect-import --campaign "$campaign" <"$T/fifo" >"$T/out1" 2>&1 & imp=$!
ok 'the import is streaming rows' wait_sql "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
	WHERE $ours AND query LIKE 'COPY pg_temp.drip_import%')"
sleep 0.5
kill -9 $imp
wait $imp 2>/dev/null
is "$?" 137 'prospect-import killed with SIGKILL mid-stream'
kill $writer
ok 'its server session ends' wait_sql "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity
	WHERE $ours AND query LIKE 'COPY pg_temp.drip_import%')"
is "$(table_counts)" "$before" 'killed mid-stream: no row anywhere changed in count'
is "$(snapshot)" "$prospects" 'killed mid-stream: the prospects are exactly as they were'

# 2. Killed while writing: another session holds the prospect table, so
# the import stops in its INSERT, after all rows were staged.
gen 30001 50000 >"$T/all.jsonl"
PGAPPNAME=drip-locker psql -X -q -d "$DATABASE_URL" -c \
	"BEGIN; LOCK TABLE drip.email_campaign_prospect IN SHARE MODE; SELECT pg_sleep(60)" \
	>/dev/null 2>&1 & locker=$!
at_exit kill $locker
wait_sql "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $ours AND application_name = 'drip-locker'
	AND query LIKE '%pg_sleep%')"
prospect-import --campaign "$campaign" <"$T/all.jsonl" >"$T/out2" 2>&1 & imp=$!
ok 'the import reaches its INSERT and waits there' wait_sql "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
	WHERE $ours AND query LIKE 'INSERT INTO drip.email_campaign_prospect%' AND wait_event_type = 'Lock')"
kill -9 $imp
wait $imp 2>/dev/null
is "$?" 137 'prospect-import killed with SIGKILL while writing'
# Let the orphaned statement run: it inserts, then finds its client gone.
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $ours AND application_name = 'drip-locker'" >/dev/null
wait $locker
wait_sql "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity
	WHERE $ours AND query LIKE 'INSERT INTO drip.email_campaign_prospect%')"
is "$(table_counts) $(snapshot)" "$before $prospects" 'killed while writing: the campaign is exactly as it was'

# The campaign is not left locked: the same import now runs to the end.
run prospect-import --campaign "$campaign" <"$T/all.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .scheduled]')" '[20000,20000]' 'a new import then succeeds'

# 3. Killed while copying straight into the table (an empty campaign).
empty=$(sql "INSERT INTO drip.email_campaign (customer_id, identity_id, name, status)
	SELECT 'acme', id, 'empty', 'running' FROM drip.email_identity RETURNING id")
sql "INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	VALUES ('acme', $empty, 1, 'Hi', 'Hello')"
before=$(table_counts)
prospects=$(snapshot)
rm -f "$T/fifo"; mkfifo "$T/fifo"
(gen 60001 80000; exec sleep 60) >"$T/fifo" & writer=$!
at_exit kill $writer
prospect-import --campaign "$empty" <"$T/fifo" >"$T/out3" 2>&1 & imp=$!
ok 'the import copies rows straight into the prospect table' wait_sql "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
	WHERE $ours AND query LIKE 'COPY drip.email_campaign_prospect%')"
sleep 0.5
kill -9 $imp
wait $imp 2>/dev/null
kill $writer
wait_sql "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $ours AND query LIKE 'COPY drip.%')"
is "$(table_counts) $(snapshot)" "$before $prospects" 'killed mid-copy: the campaign is exactly as it was'
run prospect-import --campaign "$empty" <"$T/all.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .scheduled]')" '[20000,20000]' 'and the next import goes through'
