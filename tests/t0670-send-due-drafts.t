#!/bin/bash
# A draft that will never be sent does not stay in the mailbox: send-due
# deletes every draft it made whose 'sending' commit did not record it
# (the run was over, the campaign was paused meanwhile, a reply's PATCH
# failed), and the next try makes its own and sends it once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 34
db_fresh
send_env

me=$(connect_mailbox acme sales@acme.example)
claimed() {	# CAMPAIGN N: wait (10 s at most) until N of its steps are claimed
	for _ in $(seq 200); do
		[ "$(rows email_campaign_prospect_step "campaign_id = $1 AND status = 'claimed'")" = "$2" ] &&
			return 0
		sleep 0.05
	done
	return 1
}
drafts() { mock_ctl GET /_mock/users | jq '.[] | select(.email == "sales@acme.example") | .drafts'; }
deletes() { mock_ctl GET /_mock/log | jq '[.[] | select(.method == "DELETE" and .status == 204)] | length'; }

# --- the run is over while its drafts are being made
make_campaign "$me" 6
faults '{"rules": [{"method": "POST", "path": "/me/messages$", "latency_ms": 5000}]}'
run send --max-seconds 3
is "$rc" 0 'a run over while drafts are made exits 0'
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent]')" '[6,0]' 'it claimed 6 steps and sent none'
is "$(rows email_campaign_prospect_step "campaign_id = $CID AND status = 'scheduled'")" 6 'the steps went back, scheduled'
is "$(rows email_message_metadata "campaign_id = $CID")" 0 'no draft was recorded'
is "$(drafts)" 0 'and none of its drafts is left in the mailbox'
# 4 drafts were being made (4 requests at a time per mailbox); the other
# 2 steps never got to theirs
is "$(mock_ctl GET /_mock/log | jq -c '[([.[] | select(.method == "POST" and .status == 201)] | length),
	([.[] | select(.method == "DELETE" and .status == 204)] | length)]')" '[4,4]' \
	'each of the 4 drafts made was deleted (4 DELETEs answered 204)'
faults '{}'
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .failed]')" '[6,0]' 'the next run sends all 6, with drafts of its own'
is "$(sent_steps | sort | uniq -d | wc -l)" 0 'none twice'

# --- the campaign is paused between the draft and its commit
make_campaign "$me" 3
faults '{"rules": [{"method": "POST", "path": "/me/messages$", "latency_ms": 2000}]}'
send >"$T/paused.json" 2>"$T/paused.err" &
pid=$!
claimed "$CID" 3 || echo "# the steps were not claimed"
echo '{"status":"paused"}' | campaign-update "$CID" >/dev/null
wait $pid
is "$?" 0 'a run whose campaign is paused meanwhile exits 0'
is "$(rows email_campaign_prospect_step "campaign_id = $CID AND status = 'scheduled' AND claimed_by IS NULL")" 3 \
	'its steps are given back, scheduled'
is "$(drafts)" 0 'and their drafts are deleted'

# --- the prospects reply between the draft and its commit
make_campaign "$me" 2
send >"$T/replied.json" 2>"$T/replied.err" &
pid=$!
claimed "$CID" 2 || echo "# the steps were not claimed"
sql "UPDATE drip.email_campaign_prospect SET status = 'replied' WHERE campaign_id = $CID" >/dev/null
wait $pid
is "$(jq -c '[.sent, .skipped]' "$T/replied.json")" '[0,2]' 'prospects who replied meanwhile are skipped'
is "$(drafts)" 0 'and the drafts made for them are deleted'
faults '{}'

# --- a reply whose PATCH fails: deferred, its createReply draft deleted
make_campaign "$me" 2 '{"templates": [{"subject": "Hello", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 2, "thread": "reply"}]}'
run send
is "$(printf '%s' "$out" | jq .sent)" 2 'the first messages go'
n_del=$(deletes)
export DRIP_NOW=$(minutes_after "$DRIP_NOW" $((3 * 24 * 60)))
faults '{"rules": [{"method": "PATCH", "status": 503, "retry_after": "0.01", "count": 6}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]')" '[0,2]' 'the replies whose PATCH met 503 are deferred'
is "$(drafts)" 0 'their reply drafts are deleted'
is "$(( $(deletes) - n_del ))" 2 '(2 more DELETEs)'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 10)
run send
is "$(printf '%s' "$out" | jq .sent)" 2 'retried, the replies go'
is "$(jq -sc --arg d "@k$K.example" '[.[] | select(.to[0] | endswith($d))] | group_by(.to[0]) |
	map([length, (map(.conversationId) | unique | length)])' "$MOCK_SENT_LOG")" '[[2,1],[2,1]]' \
	'each in its first message'"'"'s conversation'

# --- the run is over while replies are being made, with more queued: the
# reply drafts that come back after it still get their turn (to be
# deleted) in their mailbox's queue, and the run ends. (Until 18c2c7d the
# released queue kept its tail: what came back was queued after a job no
# longer in it, never ran, and the run never ended: killed at 60 s.)
make_campaign "$me" 6 '{"templates": [{"subject": "Hello", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 2, "thread": "reply"}]}'
run send
is "$(printf '%s' "$out" | jq .sent)" 6 'six first messages go'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" $((3 * 24 * 60)))
faults '{"rules": [{"method": "POST", "path": "/createReply$", "latency_ms": 5000}]}'
ENABLE_EMAIL_SCHEDULER=true timeout 60 send-due --max-seconds 3 >"$T/over.json" 2>"$T/over.err"
is "$?" 0 'a run over while replies are made ends, exit 0'
is "$(rows email_campaign_prospect_step "campaign_id = $CID AND step = 2 AND status = 'scheduled'")" 6 \
	'the replies are scheduled again'
is "$(drafts)" 0 'and no reply draft is left'

# --- a draft's answer is lost (Graph made it, then a 504): drip never
# learnt its id, so the step is deferred and the draft stays. drip marks
# each draft it makes (an extended property: its step and drip's key,
# never sent); the step's next try finds the draft by that mark, deletes
# it, and sends a draft of its own, once. A step never tried before does
# not look.
sweeps() { mock_ctl GET /_mock/log | jq '[.[] | select(.method == "GET" and
	(.path | endswith("/mailFolders/drafts/messages")))] | length'; }
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 60)
send >/dev/null		# the six replies the section above put back
make_campaign "$me" 2
n_del=$(deletes); n_sw=$(sweeps)
faults '{"rules": [{"method": "POST", "path": "/me/messages$", "status": 504, "after_send": true, "count": 2}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]')" '[0,2]' \
	'drafts whose answers were lost (504 after Graph made them) are deferred'
is "$(drafts)" 2 'the 2 drafts made stay in the mailbox, their ids unknown to drip'
is "$(( $(sweeps) - n_sw ))" 0 'steps tried for the first time look for no earlier draft'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 60)
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred, .failed]')" '[2,0,0]' 'the next try sends both'
is "$(drafts)" 0 'and the drafts of the lost answers are gone'
is "$(( $(deletes) - n_del )) $(( $(sweeps) - n_sw ))" '2 4' \
	'found by their mark and deleted: 2 DELETEs answered 204, 4 looks (one finds, one finds none, a step)'
like "$err" 'deleted a draft an earlier try left' 'standard error says so'
is "$(sent_steps | sort | uniq -d | wc -l)" 0 'none twice'

# --- the same for a reply: createReply's answer lost
make_campaign "$me" 1 '{"templates": [{"subject": "Hello", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 2, "thread": "reply"}]}'
run send
export DRIP_NOW=$(minutes_after "$DRIP_NOW" $((3 * 24 * 60)))
faults '{"rules": [{"method": "POST", "path": "/createReply$", "status": 504, "after_send": true, "count": 1}]}'
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]') $(drafts)" '[0,1] 1' \
	'a reply draft whose answer was lost: deferred, the draft left'
faults '{}'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 60)
run send
is "$(printf '%s' "$out" | jq .sent) $(drafts)" '1 0' 'the next try deletes it and sends the reply'
is "$(jq -sc --arg d "@k$K.example" '[.[] | select(.to[0] | endswith($d))] |
	[length, (map(.conversationId) | unique | length)]' "$MOCK_SENT_LOG")" '[2,1]' \
	'in the first message'"'"'s conversation'

