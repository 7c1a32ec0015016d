#!/bin/sh
# A claim reads its candidates in rounds (lib/migrations/013_claim_candidates.sql):
# each round reads as many due steps as the batch still needs, plus 10.
# When the earliest candidates must wait (their mailbox full for the
# minute, their window closed), the next round reads on past them, so a
# claim still fills its batch from later steps, in due order, and what
# must wait moves to when it may go.
. "$(dirname "$0")/lib.sh"
plan 10
db_fresh

# Monday 2026-11-30 10:00 UTC. Mailbox 1 sends 3 a minute and has the 20
# earliest steps; campaign 2 (mailbox 2) opens at 12:00 and has the next
# 15; mailboxes 3-7 have 4 steps each, due later still, one mailbox after
# another.
t0='2026-11-30T10:00:00Z'
sql "
INSERT INTO drip.email_identity (customer_id, email, rate_per_minute, daily_cap)
	SELECT 'acme', 'm' || g || '@acme.example', CASE g WHEN 1 THEN 3 ELSE 1000 END, 1000
	FROM generate_series(1, 7) g;
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status, send_days, send_start, send_end)
	SELECT 'acme', g, 'c' || g, 'running', '{mon,tue,wed,thu,fri,sat,sun}',
	       CASE g WHEN 2 THEN time '12:00' ELSE time '00:00' END, '24:00'
	FROM generate_series(1, 7) g;
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	SELECT 'acme', g, 1, 'subject', 'body' FROM generate_series(1, 7) g;
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email)
	SELECT 'acme', c, 'p' || c || '-' || i || '@example.com'
	FROM generate_series(1, 7) c,
	     generate_series(1, CASE c WHEN 1 THEN 20 WHEN 2 THEN 15 ELSE 4 END) i;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at)
	SELECT customer_id, campaign_id, id, 1,
	       '$t0'::timestamptz - CASE campaign_id WHEN 1 THEN interval '3 hours'
				     WHEN 2 THEN interval '2 hours'
				     ELSE interval '1 hour' - campaign_id * interval '1 minute' END
	FROM drip.email_campaign_prospect;
" >/dev/null

claim() {	# worker time limit -> how many claimed
	sql "SELECT count(*) FROM drip.claim_due('$1', '$2', $3, '5 minutes')"
}
claimed_per_campaign() {
	sql "SELECT string_agg(campaign_id || ':' || n, ' ' ORDER BY campaign_id)
	     FROM (SELECT campaign_id, count(*) AS n FROM drip.email_campaign_prospect_step
		   WHERE status = 'claimed' AND claimed_by = '$1' GROUP BY 1) x"
}
waiting_until() {	# campaign -> its scheduled steps' due times, distinct
	sql "SELECT string_agg(DISTINCT drip.rfc3339(due_at), ' ') FROM drip.email_campaign_prospect_step
	     WHERE campaign_id = $1 AND status = 'scheduled'"
}

# The first round's 20 candidates all belong to mailbox 1 (3 a minute),
# the next ones to campaign 2 (closed until 12:00): later rounds fill the
# batch from mailboxes 3-7, the earliest due first.
is "$(claim w1 "$t0" 10)" 10 'a batch of 10 is filled although its 35 earliest steps must wait'
is "$(claimed_per_campaign w1)" '1:3 3:4 4:3' \
	'3 from the full mailbox, then 7 from the others in due order'
is "$(waiting_until 1)" '2026-11-30T10:01:00Z' \
	'the full mailbox'"'"'s other 17 wait for its next minute'
is "$(sql "SELECT count(*) FILTER (WHERE status <> 'scheduled'),
		  count(*) FILTER (WHERE due_at NOT IN ('$t0'::timestamptz - interval '2 hours',
							'2026-11-30T12:00:00Z'))
	   FROM drip.email_campaign_prospect_step WHERE campaign_id = 2")" '0|0' \
	'nothing of the closed campaign is claimed; what moved waits for its window'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step
	   WHERE campaign_id > 2 AND status = 'scheduled' AND due_at <= '$t0'")" 13 \
	'the 13 steps of mailboxes 3-7 the claim did not reach are due still, not moved'

# A batch larger than what may go now takes all of it and no more.
is "$(claim w2 "$t0" 100)" 13 'a batch of 100 takes the 13 that may go'
is "$(claimed_per_campaign w2)" '4:1 5:4 6:4 7:4' 'every one of them, once'
is "$(claim w3 "$t0" 100) $(waiting_until 2)" '0 2026-11-30T12:00:00Z' \
	'then nothing is due before 10:01, and the closed campaign waits for 12:00'

# A claim is never compiled by JIT (migration 018): with a million future
# steps the generic plan's cost passes jit_above_cost, and compiling took
# 735 ms a claim. Here every threshold is 0, so any statement that may be
# compiled is; auto_explain shows a JIT section for each one that was.
if [ "$(sql "SELECT pg_jit_available()")" = t ]; then
	out=$(printf '%s\n' "LOAD 'auto_explain';" \
		'SET auto_explain.log_min_duration = 0;' \
		'SET auto_explain.log_nested_statements = on;' \
		'SET auto_explain.log_analyze = on;' \
		'SET client_min_messages = log;' \
		'SET jit = on; SET jit_above_cost = 0; SET jit_optimize_above_cost = 0; SET jit_inline_above_cost = 0;' \
		'BEGIN;' \
		"SELECT count(*) FROM drip.claim_due('w9', '$t0', 5, '5 minutes');" \
		'ROLLBACK;' | psql -X -q -At -d "$DATABASE_URL" 2>&1)
	like "$out" 'Query Text: WITH cand' 'the claim'"'"'s statements were explained'
	is "$(printf '%s\n' "$out" | awk '/Query Text: WITH (cand|g AS)/ { c = 1 } /^LOG:/ { c = 0 } c && /^JIT:/ { n++ } END { print n + 0 }')" 0 \
		'and none of them was compiled by JIT'
else
	skip 'PostgreSQL without JIT' 2
fi
