#!/bin/bash
# Four send-due processes at once over 2,000 due steps in 50 mailboxes,
# the mock slow and throttling at random: every step is delivered exactly
# once, and the rows and events agree with what the mock delivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 8
db_fresh
send_env

for i in $(seq 50); do
	id=$(connect_mailbox acme "m$i@acme.example") || { echo "Bail out! cannot connect m$i"; exit 1; }
	make_campaign "$id" 40
done
sql "UPDATE drip.email_identity SET rate_per_minute = 10000, daily_cap = 100000" >/dev/null
is "$(rows email_campaign_prospect_step "status = 'scheduled' AND due_at <= '$DRIP_NOW'")" 2000 '2,000 steps due in 50 mailboxes'

# 20 ms on every request, 5 % of drafts and sends throttled with a
# fractional Retry-After, and Outlook's four-at-once limit per mailbox.
faults '{"latency_ms": 20, "mailbox_concurrency": 4, "rules": [
	{"method": "POST", "path": "/me/messages$", "status": 429, "retry_after": "0.2", "probability": 0.05},
	{"method": "POST", "path": "/send$", "status": 429, "retry_after": "0.3", "probability": 0.05}]}'
pids=
for p in 1 2 3 4; do
	send --max-seconds 30 --concurrency 16 >"$T/run$p.json" 2>"$T/run$p.err" &
	pids="$pids $!"
done
wait $pids
# Whatever was deferred goes on later runs, the clock moving on a minute each.
for m in $(seq 1 15); do
	[ "$(rows email_campaign_prospect_step "status <> 'sent'")" = 0 ] && break
	DRIP_NOW=$(date -u -d "@$(( $(date -u -d 2026-11-30T10:00:00Z +%s) + 60 * m ))" +%Y-%m-%dT%H:%M:%SZ) \
		send --max-seconds 30 >>"$T/later.json" 2>>"$T/later.err"
done

is "$(jq -s 'map(.claimed) | all(. > 0)' "$T"/run[1-4].json)" true 'all four processes took a share'
like "$(jq -r 'select(.status == 429) | .path' "$MOCK_LOG" | head -1)" '.' 'the mock did throttle some requests'
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 2000 'the mock delivered 2,000 messages'
is "$(sent_steps | sort | uniq -d | wc -l | tr -d ' ')" 0 'no step was delivered twice'
is "$(sent_steps | sort -n | md5sum)" \
	"$(sql "SELECT id FROM drip.email_campaign_prospect_step WHERE status = 'sent' ORDER BY id" | md5sum)" \
	'the steps the database calls sent are exactly the ones delivered'
is "$(sql "SELECT count(*) FROM drip.email_event e JOIN drip.email_campaign_prospect_step s ON s.id = e.step_id WHERE e.type = 'sent' AND s.status = 'sent'")" 2000 \
	'one sent event for each'
is "$(rows email_campaign_prospect_step "status IN ('claimed', 'sending', 'review', 'failed')")" 0 \
	'nothing left claimed, sending, failed or in review'
