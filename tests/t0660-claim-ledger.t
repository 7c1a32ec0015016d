#!/bin/sh
# The claim ledger (lib/migrations/009_claim_cost.sql): claim_due counts a
# mailbox's claims of the last minute and day from drip.email_identity_usage
# instead of its steps. It must agree with the steps themselves (008's
# count: claims of the window whose step still counts) through claims,
# deferrals, releases, stops and claims again, with clocks behind, and
# from the claims made before the migration; past 64 moments a day it may
# only count more, never less. Every mailbox has its ledger row from its
# creation (012), so the claim's kept plan is made with the ledger's size.
. "$(dirname "$0")/lib.sh"
plan 18
db_fresh

t0='2026-11-30T10:00:00Z'
sql "
INSERT INTO drip.email_identity (customer_id, email, rate_per_minute, daily_cap) VALUES
	('acme', 'a@acme.example', 3, 5), ('acme', 'b@acme.example', 1000, 1000);
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status, send_days, send_start, send_end) VALUES
	('acme', 1, 'a', 'running', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00'),
	('acme', 2, 'b', 'paused', '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00');
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	SELECT 'acme', c, 1, 'subject', 'body' FROM generate_series(1, 2) c;
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email)
	SELECT 'acme', c, 'p' || c || '-' || i || '@example.com' FROM generate_series(1, 2) c, generate_series(1, 100) i;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at)
	SELECT customer_id, campaign_id, id, 1, '$t0'::timestamptz - interval '1 hour' FROM drip.email_campaign_prospect;
" >/dev/null

claim() {	# worker time limit -> how many claimed
	sql "SELECT count(*) FROM drip.claim_due('$1', '$2'::timestamptz, $3, '5 minutes')"
}
at() { sql "SELECT drip.rfc3339('$t0'::timestamptz + interval '$1')"; }
# The ledger's count of mailbox $1's claims after $2 - $3 (the minute: every
# claim; the day: less those that stopped counting), and the steps' own.
ledger() {
	sql "SELECT CASE WHEN cardinality(u.at) = 0 THEN 0 ELSE u.cum[cardinality(u.at)] -
		CASE width_bucket('$2'::timestamptz - interval '$3', u.at) WHEN 0 THEN u.base
		ELSE u.cum[width_bucket('$2'::timestamptz - interval '$3', u.at)] END END
		- CASE '$3' WHEN '1 minute' THEN 0 ELSE (SELECT count(*) FROM drip.email_campaign_prospect_step x
		    WHERE x.identity_id = u.identity_id AND x.claimed_at IS NOT NULL
		      AND x.claimed_at > greatest('$2'::timestamptz - interval '$3', u.since)
		      AND x.status IN ('scheduled', 'failed', 'suppressed', 'skipped')) END
	     FROM drip.email_identity_usage u WHERE u.identity_id = $1"
}
truth() {
	sql "SELECT count(*) FROM drip.email_campaign_prospect_step
	     WHERE identity_id = $1 AND claimed_at > '$2'::timestamptz - interval '$3'
	       AND ('$3' = '1 minute' OR drip.counts_as_sent(status))"
}
agrees() {	# mailbox time: the ledger's minute and day against the steps'
	echo "$(ledger "$1" "$2" '1 minute') $(ledger "$1" "$2" '1 day')/$(truth "$1" "$2" '1 minute') $(truth "$1" "$2" '1 day')"
}
ids_of() {	# worker -> the ids it holds, comma separated
	sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM drip.email_campaign_prospect_step WHERE claimed_by = '$1' AND status = 'claimed'"
}

is "$(sql "SELECT string_agg(identity_id || ':' || cardinality(at), ' ' ORDER BY identity_id)
	   FROM drip.email_identity_usage")" '1:0 2:0' 'each new mailbox has an empty ledger row before its first claim'
sql "DELETE FROM drip.email_identity_usage WHERE identity_id = 2" >/dev/null
sed -n '/^INSERT INTO drip.email_identity_usage/,/^$/p' "$DRIP_TOP/lib/migrations/012_claim_steady.sql" | sql "$(cat)" >/dev/null
is "$(sql "SELECT count(*) FROM drip.email_identity_usage WHERE identity_id = 2 AND cardinality(at) = 0")" 1 \
	'migration 012 gives a mailbox created before it its row'

# Mailbox a: 3 a minute, 5 a day (b's campaign waits, paused).
is "$(claim w1 "$t0" 100) $(claim w1 "$(at '30 seconds')" 100) $(claim w1 "$(at '60 seconds')" 100)" '3 0 2' \
	'3 at once, none within the minute, then 2 more until the daily cap of 5'
is "$(agrees 1 "$(at '60 seconds')")" '2 5/2 5' 'the ledger counts what the steps count'

# Claims that stop counting: one deferred (due again before the others),
# one failed, one released.
w1=$(ids_of w1)
a=$(echo "$w1" | cut -d, -f1); b=$(echo "$w1" | cut -d, -f2); e=$(echo "$w1" | cut -d, -f5)
sql "SELECT drip.mark_deferred('w1', '$(at '90 seconds')', ARRAY[$a]::bigint[], ARRAY['$t0'::timestamptz - interval '2 hours'], '{throttled}');
     SELECT drip.mark_stopped('w1', '$(at '90 seconds')', ARRAY[$b]::bigint[], 'failed', '{no}')" >/dev/null
is "$(agrees 1 "$(at '90 seconds')")" '2 3/2 3' 'a deferred and a failed claim stop counting for the day'
is "$(claim w2 "$(at '2 minutes')" 100)" 1 'the deferred step, due again, is claimed (the others wait for the cap)'
is "$(sql "SELECT claimed_by FROM drip.email_campaign_prospect_step WHERE id = $a")" w2 \
	'by the new claimer'
is "$(agrees 1 "$(at '2 minutes')")" '1 4/1 4' 'its first claim is no longer counted: it counts once'
sql "SELECT drip.mark_released('w1', '$(at '3 minutes')', ARRAY[$e]::bigint[], '{time}');
     UPDATE drip.email_campaign_prospect_step SET due_at = '$t0'::timestamptz - interval '1 hour'
     WHERE campaign_id = 1 AND status = 'scheduled'" >/dev/null
is "$(claim w3 "$(at '4 minutes')" 100) $(sql "SELECT claimed_by FROM drip.email_campaign_prospect_step WHERE id = $e")" '2 w3' \
	'a released claim frees its place: 2 more (the released step again), not 1'
is "$(claim w3 "$(at '5 minutes')" 100)" 0 'then the cap holds'
is "$(agrees 1 "$(at '5 minutes')")" '0 5/0 5' 'and the ledger still agrees'

# The day slides: a day after the first claims, their places free up.
is "$(claim w4 "$(at '1 day')" 100) $(agrees 1 "$(at '1 day')")" '1 1 5/1 5' \
	'a day later the claims of 10:00 have left the window: 1 more'

# Mailbox b from now on, a's campaign paused. A clock behind the last
# claim (another host, or a test): the ledger is rebuilt in order and
# still agrees.
sql "UPDATE drip.email_campaign SET status = CASE name WHEN 'a' THEN 'paused' ELSE 'running' END" >/dev/null
claim w5 "$(at '2 hours')" 1 >/dev/null
is "$(claim w5 "$(at '1 hour')" 1) $(agrees 2 "$(at '2 hours')")" '1 1 2/1 2' \
	'a claim at an earlier moment is counted in its place'

# Past 64 moments in a day the oldest are merged into the next: counted
# longer, never shorter.
sql "DO \$\$ BEGIN FOR g IN 1..70 LOOP
	PERFORM drip.claim_due('w6', '$t0'::timestamptz + interval '3 hours' + g * interval '1 minute', 1, '5 minutes');
     END LOOP; END \$\$" >/dev/null
is "$(sql "SELECT cardinality(at) <= 64 FROM drip.email_identity_usage WHERE identity_id = 2")" t \
	'the ledger keeps at most 64 moments'
is "$(agrees 2 "$(at '4 hours 10 minutes')")" '1 72/1 72' 'and counts every claim while all are in the window'
later=$(sql "SELECT drip.rfc3339('$t0'::timestamptz + interval '1 day 3 hours 3 minutes')")
is "$(ledger 2 "$later" '1 day') $(truth 2 "$later" '1 day')" '72 67' \
	'a merged claim leaves the window with the moment it was merged into, not before'
later=$(sql "SELECT drip.rfc3339('$t0'::timestamptz + interval '1 day 3 hours 8 minutes')")
is "$(ledger 2 "$later" '1 day') $(truth 2 "$later" '1 day')" '62 62' \
	'and then both agree again'

# Claims made before the migration: the ledger starts from them (the
# claims moved to the real clock, which the migration reads).
sql "UPDATE drip.email_campaign_prospect_step SET claimed_at = claimed_at - '$t0'::timestamptz + date_trunc('minute', now())
     WHERE claimed_at IS NOT NULL;
     DELETE FROM drip.email_identity_usage;" >/dev/null
sed -n '/^-- The claims already made/,/^$/p' "$DRIP_TOP/lib/migrations/009_claim_cost.sql" | sql "$(cat)" >/dev/null
now=$(sql "SELECT drip.rfc3339(date_trunc('minute', now()) + interval '1 day 3 hours 40 minutes')")
is "$(agrees 1 "$now") $(agrees 2 "$now")" '0 1/0 1 0 30/0 30' \
	'the migration counts the claims already made'
