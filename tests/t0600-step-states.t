#!/bin/sh
# The step state machine in SQL (lib/migrations/005_send.sql), driven the
# way send-due drives it: claims respect statuses, rates, caps and windows;
# transitions only move steps the worker holds; a sent step schedules the
# next one; stopped prospects never get another step.
. "$(dirname "$0")/lib.sh"
plan 24
db_fresh

# Monday 2026-11-30 10:00 UTC; windows all week, all day unless said.
t0='2026-11-30T10:00:00Z'
sql "
INSERT INTO drip.email_identity (customer_id, email, rate_per_minute, daily_cap) VALUES
	('acme', 'a@acme.example', 3, 5), ('acme', 'b@acme.example', 30, 50);
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status, send_days, send_start, send_end, daily_cap) VALUES
	('acme', 1, 'rated', 'running', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00', NULL),
	('acme', 2, 'capped', 'running', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00', 2),
	('acme', 2, 'paused', 'paused', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00', NULL),
	('acme', 2, 'window', 'running', '{mon}', '12:00', '17:00', NULL);
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text, delay_days, thread)
	SELECT 'acme', c, s, 'subject ' || s, 'body', CASE s WHEN 1 THEN 0 ELSE 3 END, CASE s WHEN 1 THEN 'new' ELSE 'reply' END
	FROM generate_series(1, 4) c, generate_series(1, 2) s;
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email)
	SELECT 'acme', c, 'p' || c || '-' || i || '@example.com' FROM generate_series(1, 4) c, generate_series(1, 10) i;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at)
	SELECT customer_id, campaign_id, id, 1, '$t0'::timestamptz - interval '1 hour' FROM drip.email_campaign_prospect;
" >/dev/null

claim() {	# worker time limit -> claimed ids, one line
	sql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM drip.claim_due('$1', '$2', $3, '5 minutes') AS c(id)"
}
status_of() { sql "SELECT string_agg(status, ',' ORDER BY id) FROM drip.email_campaign_prospect_step WHERE id IN ($1)"; }

first=$(claim w1 "$t0" 100)
is "$(sql "SELECT c.name, count(*) FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign c ON c.id = s.campaign_id WHERE s.status = 'claimed' GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
	'capped|2 rated|3 ' \
	'one claim takes the mailbox rate (3), the campaign cap (2), nothing paused, nothing outside its window'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step s WHERE s.campaign_id = 1 AND s.status = 'scheduled' AND s.due_at = '$t0'::timestamptz + interval '1 minute'")" 7 \
	'the rest of the rate-limited mailbox waits until its minute frees up'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step s WHERE s.campaign_id = 2 AND s.status = 'scheduled' AND s.due_at = '$t0'::timestamptz + interval '1 day'")" 8 \
	'the rest of the capped campaign waits a day'
is "$(sql "SELECT DISTINCT drip.rfc3339(due_at) FROM drip.email_campaign_prospect_step WHERE campaign_id = 4")" \
	'2026-11-30T12:00:00Z' 'steps due before their window opens move to its opening'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE campaign_id = 3 AND status = 'scheduled' AND due_at < '$t0'")" 10 \
	'a paused campaign'"'"'s steps stay as they were'
is "$(claim w2 "$t0" 100)" '' 'a second claimer at the same moment finds nothing'
is "$(claim w2 '2026-11-30T10:01:00Z' 100 | tr ',' '\n' | wc -l)" 2 \
	'a minute later the mailbox may send again, but its daily cap (5) leaves only 2'

# Transitions only move what the worker holds.
a=$(echo "$first" | cut -d, -f1)
is "$(sql "SELECT count(*) FROM drip.mark_sending('intruder', '$t0', ARRAY[$a]::bigint[], '{g}', '{i}', '{c}')")" 0 \
	'another worker cannot move a step it does not hold'
is "$(sql "SELECT outcome FROM drip.mark_sending('w1', '$t0', ARRAY[$a]::bigint[], '{draft-$a}', '{<m$a@x>}', '{conv-$a}')")" sending \
	'the holder commits it as sending with its draft'
is "$(sql "SELECT graph_message_id || ' ' || conversation_id FROM drip.email_message_metadata WHERE step_id = $a")" "draft-$a conv-$a" \
	'the draft ids are stored with the sending commit'
is "$(sql "SELECT count(*) FROM drip.mark_sent('w2', '$t0', ARRAY[$a]::bigint[], ARRAY['$t0']::timestamptz[])")" 0 \
	'another worker cannot record it sent'
is "$(sql "SELECT count(*) FROM drip.mark_sent('w1', '$t0', ARRAY[$a]::bigint[], ARRAY['$t0']::timestamptz[])")" 1 \
	'the holder records it sent'
is "$(sql "SELECT s.step || ' ' || drip.rfc3339(s.due_at) || ' ' || s.status FROM drip.email_campaign_prospect_step s WHERE s.prospect_id = (SELECT prospect_id FROM drip.email_campaign_prospect_step WHERE id = $a) AND s.step = 2")" \
	'2 2026-12-03T10:00:00Z scheduled' 'step 2 is scheduled at the send time plus its 3-day delay'
is "$(sql "SELECT type || ' ' || graph_message_id FROM drip.email_event WHERE step_id = $a")" "sent draft-$a" \
	'one sent event with the message id'

# The race with inbox-sync: the prospect replied after the claim.
b=$(echo "$first" | cut -d, -f2)
sql "UPDATE drip.email_campaign_prospect SET status = 'replied' WHERE id = (SELECT prospect_id FROM drip.email_campaign_prospect_step WHERE id = $b)"
is "$(sql "SELECT outcome FROM drip.mark_sending('w1', '$t0', ARRAY[$b]::bigint[], '{g}', '{i}', '{c}')")" skipped \
	'a step whose prospect replied after the claim is skipped, not sent'
is "$(rows email_message_metadata "step_id = $b")" 0 'and no draft is recorded for it'

# Deferred seven times it waits; the eighth attempt gives up.
c=$(echo "$first" | cut -d, -f3)
for i in 1 2 3 4 5 6 7 8; do
	sql "UPDATE drip.email_campaign_prospect_step SET status = 'claimed', claimed_by = 'w1', lease_until = '$t0'::timestamptz + interval '1 hour' WHERE id = $c"
	sql "SELECT drip.mark_deferred('w1', '$t0', ARRAY[$c]::bigint[], ARRAY['$t0'::timestamptz + interval '1 minute'], '{throttled}')" >/dev/null
done
is "$(sql "SELECT s.status || ' ' || s.attempts || ' ' || p.status FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE s.id = $c")" \
	'failed 8 failed' 'after 8 attempts the step and its prospect fail'
is "$(sql "SELECT string_agg(type, ',' ORDER BY id) FROM drip.email_event WHERE step_id = $c")" \
	'deferred,deferred,deferred,deferred,deferred,deferred,deferred,failed' 'each attempt leaves an event'

# A refused recipient bounces and is suppressed for the customer.
d=$(echo "$first" | cut -d, -f4)
sql "SELECT drip.mark_sending('w1', '$t0', ARRAY[$d]::bigint[], '{g$d}', '{i$d}', '{c$d}')" >/dev/null
sql "SELECT drip.mark_stopped('w1', '$t0', ARRAY[$d]::bigint[], 'bounced', '{ErrorInvalidRecipients}')" >/dev/null
is "$(sql "SELECT p.status || ' ' || (drip.suppressed_by('acme', p.email) IS NOT NULL) FROM drip.email_campaign_prospect p JOIN drip.email_campaign_prospect_step s ON s.prospect_id = p.id WHERE s.id = $d")" \
	'bounced true' 'a bounced recipient stops and is suppressed for the customer'

# An expired claim goes back to the queue; a live one does not.
e=$(echo "$first" | cut -d, -f5)
is "$(sql "SELECT drip.release_expired('$t0')")" 0 'claims inside their lease are kept'
is "$(sql "SELECT drip.release_expired('2026-11-30T10:06:00Z')")" 1 'a claim past its lease is released'
is "$(status_of "$e")" scheduled 'and waits to be claimed again'

# 'sending' steps past their lease are taken for reconciliation, once.
sql "UPDATE drip.email_campaign_prospect_step SET status = 'sending', claimed_by = 'dead', lease_until = '$t0' WHERE id = $e"
is "$(sql "SELECT count(*) FROM drip.claim_reconcile('w3', '2026-11-30T10:07:00Z', 10, '5 minutes')")" 1 \
	'a sending step whose worker died is taken for reconciliation'
is "$(sql "SELECT count(*) FROM drip.claim_reconcile('w4', '2026-11-30T10:07:00Z', 10, '5 minutes')")" 0 \
	'and by one worker only'
