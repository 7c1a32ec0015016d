#!/bin/bash
# inbox-sync on several hosts at once: mailboxes are claimed with a lease,
# each read by one run; a claim held elsewhere is left alone until its
# lease runs out; a run that loses its lease commits nothing; a run killed
# or out of time resumes where its last page was committed, recording
# nothing twice. And the race that matters: a reply recorded while the
# prospect's next step is claimed stops that step before /send.
# shellcheck disable=SC2016 # jq programs are literal
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 26
db_fresh
send_env

two_steps='{"templates": [{"subject": "Hello {{first_name|there}}", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 2, "thread": "reply"}]}'
for m in 1 2 3 4; do
	id=$(connect_mailbox acme "m$m@acme.example")
	eval "M$m=$id"
	make_campaign "$id" 15 "$two_steps"
done
send >/dev/null
is "$(rows email_message_metadata "sent_at IS NOT NULL")" 60 'setup: four mailboxes sent step 1 to 15 prospects each'

imid() {
	sql "SELECT m.internet_message_id FROM drip.email_message_metadata m
		JOIN drip.email_campaign_prospect p ON p.id = m.prospect_id
		WHERE p.email = '$1' ORDER BY m.id DESC LIMIT 1"
}
reply() {	# MAILBOX ADDRESS [BODY]
	mock_ctl POST "/_mock/users/$1/inbox" "$(jq -nc --arg r "$(imid "$2")" --arg b "${3:-Tell me more.}" \
		'{kind: "reply", in_reply_to: $r, body: $b}')" >/dev/null
}
plain() {	# MAILBOX N: N messages that answer nothing
	for _i in $(seq "$2"); do
		mock_ctl POST "/_mock/users/$1/inbox" "{\"subject\": \"note $_i\", \"body\": \"x\"}" >/dev/null
	done
}
summary() { printf '%s' "$1" | jq -c "[$2]"; }

# --- two runs at once ----------------------------------------------------------
for m in 1 2 3 4; do
	for i in $(seq 0 14); do reply "m$m@acme.example" "p$i@k$m.example"; done
done
faults '{"latency_ms": 600}'
n0=$(mock_ctl GET /_mock/log | jq length)	# the log file is written lazily; this is not
inbox-sync >"$T/a.out" 2>"$T/a.err" &
a=$!
inbox-sync >"$T/b.out" 2>"$T/b.err" &
b=$!
wait $a; ra=$?
wait $b; rb=$?
faults '{}'
is "$ra $rb" '0 0' 'two runs at once both succeed'
is "$(jq -s -c '[(map(.identities) | add), (map(.replied) | add), (map(.duplicates) | add)]' "$T/a.out" "$T/b.out")" \
	'[4,60,0]' 'between them: four mailboxes, each read by one run, 60 replies, none read twice'
ok 'both runs read mailboxes (neither waited for the other)' \
	test "$(jq .identities "$T/a.out")" -ge 1 -a "$(jq .identities "$T/b.out")" -ge 1
is "$(rows email_event "type = 'replied'") $(rows email_campaign_prospect "status = 'replied'")" '60 60' \
	'60 replied events, 60 prospects replied'
is "$(mock_ctl GET /_mock/log | jq -r ".[$n0:][]"' | select(.path | test("/delta$")) | .mailbox' | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" \
	'1 1 1 1 ' 'each mailbox'"'"'s inbox was asked for once'

# --- a lease held elsewhere ----------------------------------------------------------
reply m1@acme.example p0@k1.example 'A second thought.'
sql "UPDATE drip.email_identity SET sync_claimed_by = 'elsewhere/1/x',
	sync_lease_until = now() + interval '5 minutes' WHERE id = $M1"
run inbox-sync --identity "$M1" -v
is "$rc $(summary "$out" '.identities, .messages')" '0 [0,0]' 'a mailbox leased by a live run elsewhere is left alone'
like "$err" "being read by elsewhere/1/x until" 'and -v says by whom'
expire() { sql "UPDATE drip.email_identity SET sync_lease_until = now() - interval '1 second' WHERE id = $1"; }
expire "$M1"	# five minutes later
run inbox-sync --identity "$M1"
is "$(summary "$out" '.identities, .messages')" '[1,1]' 'once its lease is over, the mailbox is read'

# --- a run whose lease is taken over commits nothing ----------------------------------
reply m2@acme.example p0@k2.example 'Still there?'
link() { sql "SELECT md5(delta_link) FROM drip.email_identity WHERE id = $1"; }
link0=$(link "$M2")
faults "{\"rules\": [{\"path\": \"/delta\$\", \"mailbox\": \"m2@acme.example\", \"latency_ms\": 4000}]}"
inbox-sync --identity "$M2" -v >"$T/l.out" 2>"$T/l.err" &
l=$!
ok 'the run claims the mailbox before it asks Graph' \
	wait_sql "SELECT sync_claimed_by LIKE '%/%' FROM drip.email_identity WHERE id = $M2" t
sql "UPDATE drip.email_identity SET sync_claimed_by = 'thief/1/x' WHERE id = $M2"
wait $l
faults '{}'
like "$(cat "$T/l.err")" 'lease lost to another worker' 'the run finds its claim gone when it commits'
is "$(jq -c '[.messages, .replied]' "$T/l.out") $(link "$M2") $(sql "SELECT sync_claimed_by FROM drip.email_identity WHERE id = $M2")" \
	"[0,0] $link0 thief/1/x" 'and commits nothing: no event, the link and the new holder untouched'
sql "UPDATE drip.email_identity SET sync_claimed_by = NULL, sync_lease_until = NULL WHERE id = $M2"
run inbox-sync --identity "$M2"
is "$(summary "$out" '.messages, .replied')" '[1,1]' 'the next run records the reply, once'

# --- killed mid-run: the lease keeps others off, then the mailbox is read again --------
reply m3@acme.example p0@k3.example 'Sure.'
faults "{\"rules\": [{\"path\": \"/delta\$\", \"mailbox\": \"m3@acme.example\", \"latency_ms\": 10000}]}"
inbox-sync --identity "$M3" >/dev/null 2>&1 &
k=$!
wait_sql "SELECT sync_claimed_by IS NOT NULL FROM drip.email_identity WHERE id = $M3" t
kill -9 $k
wait $k 2>/dev/null
faults '{}'
run inbox-sync
is "$(summary "$out" '.identities, .replied') $(sql "SELECT sync_claimed_by IS NOT NULL FROM drip.email_identity WHERE id = $M3")" \
	'[3,0] t' 'the killed run'"'"'s mailbox stays claimed until its lease ends; the others are read'
expire "$M3"
run inbox-sync --identity "$M3"
is "$(summary "$out" '.identities, .replied')" '[1,1]' 'after the lease the reply is read, once'

# --- out of time mid-round: the next run goes on from the page committed ----------------
plain m4@acme.example 120
faults "{\"rules\": [{\"path\": \"/delta\$\", \"mailbox\": \"m4@acme.example\", \"latency_ms\": 2500}]}"
run inbox-sync --identity "$M4" --max-seconds 2
faults '{}'
is "$rc $(summary "$out" '.messages, .unmatched')" '0 [50,50]' \
	'--max-seconds: one page of 50 read and committed, then it stops'
like "$(sql "SELECT delta_link FROM drip.email_identity WHERE id = $M4")" 'skiptoken' \
	'the link kept is the next page'"'"'s'
run inbox-sync --identity "$M4"
is "$(summary "$out" '.messages, .unmatched')" '[70,70]' 'the next run reads the other 70, not the first 50 again'
run inbox-sync --identity "$M4"
is "$(summary "$out" '.messages')" '[0]' 'and the one after, nothing'

# --- the race: a reply while the next step is claimed ------------------------------------
# ann, bob and carl got step 1; at step 2's time a worker (w1) has claimed
# ann's step 2 and is about to send it
make_campaign "$M1" 3 "$two_steps"
send >/dev/null
ann=p0@k$K.example bob=p1@k$K.example carl=p2@k$K.example
T2=2026-12-02T10:00:00Z
pid_of() { sql "SELECT id FROM drip.email_campaign_prospect WHERE email = '$1'"; }
step2() { sql "SELECT p.status || '/' || s.status FROM drip.email_campaign_prospect p JOIN drip.email_campaign_prospect_step s ON s.prospect_id = p.id AND s.step = 2 WHERE p.email = '$1'"; }
sql "UPDATE drip.email_campaign_prospect_step SET due_at = '$T2'::timestamptz + interval '1 day'
	WHERE step = 2 AND prospect_id IN ($(pid_of "$bob"), $(pid_of "$carl"))" >/dev/null
step=$(sql "SELECT string_agg(id::text, ',') FROM drip.claim_due('w1', '$T2', 10, '5 minutes') AS c(id)")
is "$(sql "SELECT prospect_id || ' ' || status FROM drip.email_campaign_prospect_step WHERE id = '$step'")" "$(pid_of "$ann") claimed" \
	'setup: ann'"'"'s step 2 is claimed by w1'
reply m1@acme.example "$ann" 'Yes, call me.'
reply m1@acme.example "$bob" 'Not now, thanks.'
run env DRIP_NOW=$T2 inbox-sync --identity "$M1"
is "$(summary "$out" .replied) $(step2 "$ann") $(step2 "$bob")" '[2] replied/claimed replied/skipped' \
	'both replies recorded: bob'"'"'s pending step skipped with it; ann'"'"'s claimed step is the worker'"'"'s'
is "$(sql "SELECT outcome FROM drip.mark_sending('w1', '$T2', ARRAY[$step]::bigint[], '{g}', '{<i@x>}', '{c}')")" skipped \
	'the worker'"'"'s last look before /send (drip.mark_sending) skips ann'"'"'s step'
is "$(step2 "$ann") $(rows email_message_metadata "step_id = $step")" 'replied/skipped 0' \
	'it is skipped and no draft is recorded for it'

# the same with send-due itself: carl's reply is read while his draft is made
sql "UPDATE drip.email_campaign_prospect_step SET due_at = '$T2' WHERE step = 2 AND prospect_id = $(pid_of "$carl")" >/dev/null
reply m1@acme.example "$carl" 'Interested!'
sent0=$(mock_sent_count m1@acme.example)
faults '{"rules": [{"path": "/createReply$", "latency_ms": 6000}]}'
DRIP_NOW=$T2 send >"$T/s.out" 2>"$T/s.err" &
s=$!
ok 'send-due claims carl'"'"'s step 2 and asks for its draft' \
	wait_sql "SELECT s.status FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE p.email = '$carl' AND s.step = 2" claimed
DRIP_NOW=$T2 inbox-sync --identity "$M1" >/dev/null
wait $s
faults '{}'
is "$(jq -c '[.claimed, .sent, .skipped]' "$T/s.out") $(step2 "$carl")" '[1,0,1] replied/skipped' \
	'send-due skips the step of the prospect who replied meanwhile'
is "$(mock_sent_count m1@acme.example)" "$sent0" 'and nothing more went out'
