#!/bin/bash
# Never twice, never lost, even when things break mid-send: send-due killed
# with SIGKILL again and again; Graph answering 504 after it really sent;
# the connection reset on the send, before Graph took it or after (curl
# must not post it again, nor take a failed reconnect for "unsent");
# a process killed right after it
# committed 'sending'; a run over with sends not started; SIGTERM. Later
# runs reconcile every step from its draft.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 30
db_fresh
send_env

for i in 1 2 3 4 5; do
	id=$(connect_mailbox acme "m$i@acme.example") || { echo "Bail out! cannot connect"; exit 1; }
	make_campaign "$id" 40
done
sql "UPDATE drip.email_identity SET rate_per_minute = 10000, daily_cap = 100000" >/dev/null

# --- SIGKILL, five times, at random moments of a run
faults '{"latency_ms": 150}'
interrupted=0
killed=0
for k in 1 2 3 4 5; do
	# the tool itself, not a shell function around it: $! must be send-due
	ENABLE_EMAIL_SCHEDULER=true send-due --max-seconds 30 >/dev/null 2>&1 &
	pid=$!
	# at a random moment after it claimed (valgrind takes a while to start)
	wait_sql "SELECT count(*) > 0 FROM drip.email_campaign_prospect_step WHERE status IN ('claimed', 'sending')" t
	sleep "0.$((RANDOM % 10))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $? = 137 ] && killed=$((killed + 1))
	interrupted=$((interrupted + $(rows email_campaign_prospect_step "status IN ('claimed', 'sending')")))
done
ok "the kills left steps claimed or sending behind ($interrupted)" test "$interrupted" -gt 0
ok "SIGKILL ended send-due mid-run ($killed of 5 times)" test "$killed" -gt 0
faults '{}'
drain 10
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 200 'after five kills and later runs, 200 messages delivered'
is "$(sent_steps | sort | uniq -d | wc -l | tr -d ' ')" 0 'none twice'
is "$(rows email_campaign_prospect_step "status = 'sent'")" 200 'every step is recorded sent'
is "$(rows email_campaign_prospect_step "status <> 'sent'")" 0 'nothing left claimed, sending, or in review'
is "$(rows email_event "type = 'sent'")" 200 'one sent event per step'

# --- 504 after Graph really sent: reconciled as sent, not sent again
make_campaign 1 3
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "status": 504, "after_send": true, "count": 3}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent]')" '[3,0]' '504 on the send: not counted as sent'
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" 3 'the steps stay sending'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 1)
run send
is "$(printf '%s' "$out" | jq -c '[.reconciled, .sent]')" '[3,3]' 'the next run finds them sent: reconciled'
is "$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" 3 'and the mock delivered each once'

# --- connection reset on the send, before Graph took it: sent by reconciling
make_campaign 1 2
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "reset": true, "count": 2}]}'
send >/dev/null 2>&1
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 1)
send >/dev/null 2>&1
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sent'"):$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" '2:2' \
	'a reset send: the draft is still a draft, so it is sent now, once'

# --- Graph sent, then the connection was reset with no answer. The send
# went out on a kept-alive connection, and curl would post it again by
# itself on a new one: it must not, and the run must not call it failed
make_campaign 1 2
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
r0=$(wc -l <"$MOCK_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "reset": true, "after_send": true, "count": 2}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent, .failed, .bounced]'):$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" \
	'[2,0,0,0]:2' 'a reset after Graph sent: not counted sent, nothing failed, the steps stay sending'
is "$(tail -n +$((r0 + 1)) "$MOCK_LOG" | jq -s '[.[] | select(.method == "POST" and (.path | endswith("/send")))] | length')" 2 \
	'each send reached Graph once: curl did not post it again on a new connection'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 1)
run send
is "$(printf '%s' "$out" | jq -c '[.reconciled, .sent]'):$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" '[2,2]:2' \
	'the next run finds them sent: reconciled, each delivered once'

# --- the same, and then no connection for a while: curl's second trip
# cannot connect. The send went out all the same: never sent again
make_campaign 1 1
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "reset": true, "after_send": true, "refuse_ms": 300, "count": 1}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent, .deferred]'):$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" \
	'[1,0,0]:1' 'sent, then no connection to the mock: not deferred as unsent, the step stays sending'
sleep 0.4
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 1)
drain 3
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sent'"):$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" '1:1' \
	'later runs reconcile it: sent, delivered once'

# --- killed right after committing 'sending', the send under way
make_campaign 1 1
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "latency_ms": 1500, "count": 1}]}'
ENABLE_EMAIL_SCHEDULER=true send-due >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do
	[ "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" = 1 ] && break
	sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null
is "$?" 137 'send-due itself was killed'
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" 1 'killed with the step committed sending'
sleep 2	# let the mock finish the send it had started, or not
faults '{}'
drain 3
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sent'")" 1 'a later run reconciles it'
is "$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" 1 'delivered exactly once'

# --- the run is over with sends still queued (4 at a time per mailbox):
# they stay 'sending' and a run after their lease sends each, once
make_campaign 1 8
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
faults '{"rules": [{"method": "POST", "path": "/send$", "latency_ms": 4500}]}'
run send --max-seconds 3
is "$rc:$(printf '%s' "$out" | jq .sent)" 0:4 'a run over with sends queued sends the 4 under way, exit 0'
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sending'")" 4 \
	'the 4 not started stay sending'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 10)
run send
is "$(printf '%s' "$out" | jq -c '[.reconciled, .sent]')" '[4,4]' 'after their lease a run finds their drafts unsent and sends them'
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sent'"):$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" '8:8' \
	'8 sent, each delivered once'

# --- SIGTERM (systemctl stop) while drafts are made: the run ends as at
# --max-seconds, its claims given back at once, not after their lease
make_campaign 1 6
c=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
drafts() { mock_ctl GET /_mock/users | jq '[.[].drafts] | add'; }
d0=$(drafts)	# what the kills above left
faults '{"rules": [{"method": "POST", "path": "/me/messages$", "latency_ms": 2000}]}'
ENABLE_EMAIL_SCHEDULER=true send-due >"$T/term.json" 2>"$T/term.err" &
pid=$!
wait_sql "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE campaign_id = $c AND status = 'claimed'" 6
kill -TERM $pid
wait $pid
is "$?:$(jq -c '[.claimed, .sent]' "$T/term.json")" '0:[6,0]' 'SIGTERM mid-run: exit 0, the summary printed, nothing sent'
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'scheduled' AND claimed_by IS NULL")" 6 \
	'its claimed steps are scheduled again at once'
is "$(( $(drafts) - d0 ))" 0 'and the drafts it had made are deleted'
faults '{}'
run send
is "$(printf '%s' "$out" | jq .sent):$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" '6:6' 'the next run sends the 6, each once'

is "$(sent_steps | sort | uniq -d | wc -l | tr -d ' ')" 0 'over the whole file, no step delivered twice'
