#!/bin/sh
# drip.mark_sending and drip.mark_sent over a whole batch, as send-due's
# commits call them (lib/migrations/010_mark_cost.sql): each step takes the
# draft ids and send time at its own position in the arrays, whatever the
# order; the guards hold per step inside a batch; sending, skipped and
# released mix in one call; the sent events, metadata and next steps are
# those of 005; a campaign finishes only when its last active prospect
# does; every event is announced on drip_event.
. "$(dirname "$0")/lib.sh"
plan 17
db_fresh

# Monday 2026-11-30 10:00 UTC.
t0='2026-11-30T10:00:00Z'
sql "
INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'a@acme.example');
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status, timezone, send_days, send_start, send_end) VALUES
	('acme', 1, 'two steps', 'running', 'Europe/Paris', '{mon,tue,wed,thu,fri}', '09:00', '17:00'),
	('acme', 1, 'one step', 'running', 'UTC', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00'),
	('acme', 1, 'paused later', 'running', 'UTC', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00'),
	('acme', 1, 'one of two', 'running', 'UTC', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00');
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text, delay_days, thread)
	SELECT 'acme', c, s, 'subject ' || s, 'body', CASE s WHEN 1 THEN 0 ELSE 3 END,
	       CASE s WHEN 1 THEN 'new' ELSE 'reply' END
	FROM generate_series(1, 4) c, generate_series(1, 2) s WHERE s = 1 OR c = 1;
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email, timezone) VALUES
	('acme', 1, 'paris@example.com', NULL),
	('acme', 1, 'newyork@example.com', 'America/New_York'),
	('acme', 1, 'tokyo@example.com', 'Asia/Tokyo'),
	('acme', 2, 'replies@example.com', NULL),
	('acme', 2, 'last@example.com', NULL),
	('acme', 3, 'paused@example.com', NULL),
	('acme', 4, 'sent@example.com', NULL),
	('acme', 4, 'waits@example.com', NULL);
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at,
    status, claimed_by, claimed_at, lease_until, identity_id)
	SELECT customer_id, campaign_id, id, 1, '$t0'::timestamptz - interval '1 hour',
	       'claimed', 'w1', '$t0', '$t0'::timestamptz + interval '5 minutes', 1
	FROM drip.email_campaign_prospect WHERE email <> 'waits@example.com' ORDER BY id;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at)
	SELECT customer_id, campaign_id, id, 1, '$t0'::timestamptz + interval '1 day'
	FROM drip.email_campaign_prospect WHERE email = 'waits@example.com';
" >/dev/null
step() { sql "SELECT s.id FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE p.email = '$1@example.com' AND s.step = 1"; }
paris=$(step paris) ny=$(step newyork) tokyo=$(step tokyo) replies=$(step replies)
last=$(step last) paused=$(step paused) sent=$(step sent)

# Between the claim and the commit: a reply, a pause, another worker's
# claim and a lease run out.
sql "UPDATE drip.email_campaign_prospect SET status = 'replied' WHERE email = 'replies@example.com';
UPDATE drip.email_campaign SET status = 'paused' WHERE name = 'paused later';
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES
	('acme', 4, 'other@example.com'), ('acme', 4, 'late@example.com');
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at,
    status, claimed_by, claimed_at, lease_until, identity_id)
	SELECT customer_id, campaign_id, id, 1, '$t0', 'claimed',
	       CASE email WHEN 'other@example.com' THEN 'w2' ELSE 'w1' END, '$t0',
	       CASE email WHEN 'other@example.com' THEN '$t0'::timestamptz + interval '5 minutes'
			  ELSE '$t0'::timestamptz - interval '1 second' END, 1
	FROM drip.email_campaign_prospect WHERE email IN ('other@example.com', 'late@example.com');"
other=$(step other) late=$(step late)

# The batch, in an order of its own, each step's ids named after it.
batch="$sent,$late,$paused,$tokyo,$other,$replies,$ny,$last,$paris"
arr() { echo "$batch" | tr ',' '\n' | sed "s/.*/\"$1&${2:-}\"/" | paste -sd, | sed 's/^/{/; s/$/}/'; }
is "$(sql "SELECT string_agg(step_id || ' ' || outcome, ',' ORDER BY step_id)
	FROM drip.mark_sending('w1', '$t0', '{$batch}', '$(arr g)', '$(arr '<' '@x>')', '$(arr c)')")" \
	"$paris sending,$ny sending,$tokyo sending,$replies skipped,$last sending,$paused released,$sent sending" \
	'one call: sending, skipped (the prospect replied), released (paused); nothing for another worker or a lease run out'
is "$(sql "SELECT count(*) FILTER (WHERE graph_message_id = 'g' || step_id AND internet_message_id = '<' || step_id || '@x>'
	AND conversation_id = 'c' || step_id AND identity_id = 1 AND sent_at IS NULL) || '/' || count(*)
	FROM drip.email_message_metadata")" 5/5 \
	'each sending step has its own draft ids, taken by its position in the batch'
is "$(sql "SELECT string_agg(status || ' ' || coalesce(claimed_by, '-') || ' ' || (lease_until IS NOT NULL), ',' ORDER BY id)
	FROM drip.email_campaign_prospect_step WHERE id IN ($replies, $paused, $other, $late, $paris)")" \
	"sending w1 true,skipped - false,scheduled - false,claimed w2 true,claimed w1 true" \
	'the skipped and released steps are let go; the others are untouched'

# Sent, each at its own moment (Monday 10:01, 10:02, ... UTC), listed in
# another order again, with a step that is not 'sending' among them.
sent_batch="$tokyo,$paused,$last,$paris,$sent,$ny"
sent_times='{"2026-11-30T10:03:00Z","2026-11-30T10:09:00Z","2026-11-30T10:04:00Z","2026-11-30T10:01:00Z","2026-11-30T10:05:00Z","2026-11-30T10:02:00Z"}'
out=$(printf '%s\n' "LISTEN drip_event;" \
	"SELECT count(*) FROM drip.mark_sent('w1', '$t0', '{$sent_batch}', '$sent_times');" |
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL")
is "$(echo "$out" | head -n 1)" 5 'five steps recorded sent; the released one is not'
is "$(sql "SELECT string_agg(id || ' ' || drip.rfc3339(sent_at), ',' ORDER BY id) FROM drip.email_campaign_prospect_step WHERE status = 'sent'")" \
	"$paris 2026-11-30T10:01:00Z,$ny 2026-11-30T10:02:00Z,$tokyo 2026-11-30T10:03:00Z,$last 2026-11-30T10:04:00Z,$sent 2026-11-30T10:05:00Z" \
	'each step has the send time at its own position'
is "$(sql "SELECT count(*) FROM drip.email_message_metadata m JOIN drip.email_campaign_prospect_step s ON s.id = m.step_id WHERE m.sent_at = s.sent_at AND s.status = 'sent'")" 5 \
	'and its metadata the same send time'
is "$(sql "SELECT string_agg(step_id || ' ' || graph_message_id || ' ' || internet_message_id || ' ' || identity_id || ' ' || detail::text, ',' ORDER BY step_id)
	FROM drip.email_event WHERE type = 'sent'")" \
	"$(for s in $paris $ny $tokyo $last $sent; do printf '%s g%s <%s@x> 1 {"step": 1, "conversation_id": "c%s"},' $s $s $s $s; done | sed 's/,$//')" \
	'one sent event each, with its message ids, mailbox, step and conversation'
is "$(echo "$out" | sed -n 's/^Asynchronous notification "drip_event" with payload "\([0-9]*\)" received.*/\1/p' | paste -sd,)" \
	"$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM drip.email_event")" \
	'every new event is announced on drip_event, once, in id order'
is "$(sql "SELECT string_agg(p.email || ' ' || drip.rfc3339(s.due_at) || ' ' || s.status, ',' ORDER BY p.id)
	FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE s.step = 2")" \
	'paris@example.com 2026-12-03T10:01:00Z scheduled,newyork@example.com 2026-12-03T14:00:00Z scheduled,tokyo@example.com 2026-12-04T00:00:00Z scheduled' \
	'step 2 is due three local days later, moved into the window of each prospect'"'"'s zone'
is "$(sql "SELECT string_agg(email || ' ' || status || ' ' || last_step, ',' ORDER BY id) FROM drip.email_campaign_prospect WHERE campaign_id IN (1, 2, 4)")" \
	'paris@example.com active 1,newyork@example.com active 1,tokyo@example.com active 1,replies@example.com replied 0,last@example.com finished 1,sent@example.com finished 1,waits@example.com active 0,other@example.com active 0,late@example.com active 0' \
	'prospects advance; the last step finishes them'
is "$(sql "SELECT string_agg(name || ' ' || status, ',' ORDER BY id) FROM drip.email_campaign")" \
	'two steps running,one step finished,paused later paused,one of two running' \
	'a campaign whose last active prospect finished is finished; one with an active prospect left is not'
is "$(sql "SELECT count(*) FROM drip.mark_sent('w1', '$t0', '{$sent_batch}', '$sent_times')")" 0 \
	'recording the same batch again changes nothing'
is "$(rows email_event)" 5 'and adds no event'
is "$(sql "SELECT count(*) FROM drip.mark_sending('w1', '$t0', '{$paris}', '{x}', '{x}', '{x}')")" 0 \
	'a sent step cannot be made sending again'

# The finish check sees prospects outside the batch: the last active one
# of 'one of two' goes, and the campaign with it.
sql "UPDATE drip.email_campaign_prospect SET status = 'bounced' WHERE email IN ('waits@example.com', 'late@example.com')"
sql "SELECT drip.mark_sending('w2', '$t0', '{$other}', '{go}', '{<go@x>}', '{co}')" >/dev/null
is "$(sql "SELECT count(*) FROM drip.mark_sent('w2', '$t0', '{$other}', '{2026-11-30T10:06:00Z}')")" 1 \
	'another worker records its own step'
is "$(sql "SELECT status FROM drip.email_campaign WHERE name = 'one of two'")" finished \
	'its campaign finishes with its last active prospect'
is "$(sql "SELECT reloptions::text FROM pg_class WHERE oid = 'drip.email_message_metadata'::regclass")" \
	'{fillfactor=50}' 'message metadata pages keep room for the sent_at update'
