#!/bin/bash
# Limits held by the database across processes: a mailbox's rate per
# minute and daily cap with three send-due processes at once; send windows
# in the prospect's own time zone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 7
db_fresh
send_env

me=$(connect_mailbox acme sales@acme.example)
sql "UPDATE drip.email_identity SET rate_per_minute = 5, daily_cap = 8" >/dev/null
make_campaign "$me" 20

three() {
	pids=
	for p in 1 2 3; do send >/dev/null 2>&1 & pids="$pids $!"; done
	wait $pids
}
three
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 5 'three processes at once send the mailbox'"'"'s 5 a minute, no more'
DRIP_NOW=$(minutes_after "$DRIP_NOW" 1) three
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 8 'the next minute, the daily cap of 8 stops it at 3 more'
DRIP_NOW=$(minutes_after "$DRIP_NOW" 60) three
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 8 'an hour later, still 8 that day'
is "$(rows email_campaign_prospect_step "status = 'scheduled' AND due_at > '$DRIP_NOW'")" 12 \
	'the rest wait, moved to when the cap frees up, not failed'
DRIP_NOW=$(minutes_after "$DRIP_NOW" 1440) three
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 13 'a day later the mailbox sends again'

# Windows: Monday 09:00-17:00 in Berlin, one prospect in New York.
export DRIP_NOW=2026-11-30T16:30:00Z	# 17:30 in Berlin, 11:30 in New York
sql "UPDATE drip.email_identity SET rate_per_minute = 100, daily_cap = 100" >/dev/null
make_campaign "$me" 2 '{"timezone": "Europe/Berlin", "send_window": {"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "17:00"}}'
sql "UPDATE drip.email_campaign_prospect SET timezone = 'America/New_York' WHERE campaign_id = $CID AND email LIKE 'p1@%'"
sql "UPDATE drip.email_campaign_prospect_step SET due_at = '2026-11-30T07:00:00Z' WHERE campaign_id = $CID"
n0=$(wc -l <"$MOCK_SENT_LOG")
send >/dev/null 2>&1
is "$(tail -n +$((n0 + 1)) "$MOCK_SENT_LOG" | jq -r '.to[0]')" "p1@k$K.example" \
	'after 17:00 in Berlin only the New York prospect is mailed'
is "$(sql "SELECT drip.rfc3339(due_at) FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE s.campaign_id = $CID AND p.email LIKE 'p0@%'")" \
	'2026-12-01T08:00:00Z' 'the Berlin prospect waits for Tuesday 09:00 in Berlin'
