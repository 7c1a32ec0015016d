#!/bin/bash
# inbox-sync against the mock's Inbox, after send-due really sent the first
# step: replies, automatic replies, permanent and temporary bounces and
# opt-outs, each with its event, prospect status, skipped steps and
# suppression; matching by In-Reply-To, by a report's quoted Message-ID and
# by address; only what is new read on the next run (the delta link kept);
# a resync after 410 that records nothing twice; the options.
# shellcheck disable=SC2016 # jq programs are literal
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 58
db_fresh
send_env
ME=sales@acme.example
me=$(connect_mailbox acme $ME)

# Three steps; the first one's text says "unsubscribe", and every reply
# quotes it (the mock answers as Outlook does): that must not count.
make_campaign "$me" 10 '{"templates": [
	{"subject": "Hello {{first_name|there}}", "body_text": "Hi {{first_name|there}}, a question. Reply STOP to unsubscribe."},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 2, "thread": "reply"},
	{"subject": "Re: Hello", "body_text": "Last", "delay_days": 2, "thread": "reply"}]}'
cid=$CID
send >/dev/null
is "$(rows email_message_metadata "sent_at IS NOT NULL")" 10 'setup: send-due sent step 1 to ten prospects'

inject() { mock_ctl POST "/_mock/users/$ME/inbox" "$1" | jq -r .internetMessageId; }
imid() {	# the Message-ID of the latest message drip sent to an address
	sql "SELECT m.internet_message_id FROM drip.email_message_metadata m
		JOIN drip.email_campaign_prospect p ON p.id = m.prospect_id
		WHERE p.email = '$1' ORDER BY m.id DESC LIMIT 1"
}
answer() {	# KIND ADDRESS [MORE-JSON]: the mock's inbound message of that kind
	inject "$(jq -nc --arg k "$1" --arg r "$(imid "$2")" --argjson x "${3:-{\}}" \
		'{kind: $k, in_reply_to: $r} + $x')"
}
p() { echo "p$1@k1.example"; }
pstatus() { sql "SELECT status FROM drip.email_campaign_prospect WHERE email = '$1'"; }
steps() {
	sql "SELECT string_agg(s.step || ':' || s.status, ' ' ORDER BY s.step)
		FROM drip.email_campaign_prospect_step s
		JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE p.email = '$1'"
}
suppressed() { sql "SELECT coalesce((SELECT reason FROM drip.suppression_entry WHERE customer_id = 'acme' AND value = '$1'), 'no')"; }
event_of() {	# ADDRESS: type|reason|matched_by of its inbound events
	sql "SELECT string_agg(e.type || '|' || coalesce(e.reason, '') || '|' || (e.detail->>'matched_by'), ',' ORDER BY e.id)
		FROM drip.email_event e JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id
		WHERE p.email = '$1' AND e.inbound_message_id IS NOT NULL"
}
summary() { printf '%s' "$out" | jq -c "[$1]"; }
COUNTS='.identities, .messages, .replied, .auto_replies, .bounced, .unsubscribed, .delayed, .unmatched, .duplicates'

# --- one of each -------------------------------------------------------------
r0=$(answer reply "$(p 0)")
answer auto_reply "$(p 1)" >/dev/null
answer ndr "$(p 2)" '{"status": "5.1.1"}' >/dev/null
answer ndr "$(p 3)" '{"status": "4.4.7"}' >/dev/null
answer optout "$(p 4)" >/dev/null
inject '{"subject": "Our newsletter", "body": "Hello", "from": {"emailAddress": {"address": "news@example.net"}}}' >/dev/null
run inbox-sync
is "$rc" 0 'inbox-sync exits 0'
is "$(summary "$COUNTS")" '[1,6,1,1,1,1,1,1,0]' \
	'summary: 1 mailbox, 6 messages: a reply, an automatic reply, a bounce, an opt-out, a delay, one unrelated'
is "$(printf '%s' "$out" | jq -r 'keys_unsorted | join(",")')" \
	'identities,messages,replied,auto_replies,bounced,unsubscribed,delayed,unmatched,duplicates,resyncs,errors,seconds' \
	'the summary has the contract'"'"'s fields, then more'

is "$(pstatus "$(p 0)") $(steps "$(p 0)")" 'replied 1:sent 2:skipped' \
	'a reply: prospect replied, its pending step skipped'
is "$(event_of "$(p 0)")" 'replied||message_id' \
	'one replied event, matched by In-Reply-To (the quoted "unsubscribe" of step 1 did not count)'
is "$(sql "SELECT e.step_id = m.step_id AND e.internet_message_id = m.internet_message_id AND e.inbound_message_id = '$r0'
	FROM drip.email_event e JOIN drip.email_message_metadata m ON m.prospect_id = e.prospect_id
	WHERE e.type = 'replied'")" t 'the event names the step and message answered, and the reply'"'"'s own id'
is "$(pstatus "$(p 1)") $(steps "$(p 1)") $(event_of "$(p 1)")" \
	'active 1:sent 2:scheduled auto_replied|automatic reply: Auto-Submitted header|message_id' \
	'an automatic reply is recorded; the sequence goes on'
is "$(pstatus "$(p 2)") $(steps "$(p 2)") $(suppressed "$(p 2)")" 'bounced 1:sent 2:skipped bounce' \
	'a 5.x.x report: prospect bounced, step skipped, address suppressed (reason bounce)'
is "$(event_of "$(p 2)")" 'bounced|undeliverable: non-delivery report 5.1.1|message_id' 'with a bounced event'
is "$(sql "SELECT detail->>'status' || ' ' || (detail->>'recipient') FROM drip.email_event WHERE type = 'bounced'")" \
	"5.1.1 $(p 2)" 'its detail has the status and the failed recipient'
is "$(pstatus "$(p 3)") $(steps "$(p 3)") $(suppressed "$(p 3)") $(event_of "$(p 3)")" \
	'active 1:sent 2:scheduled no deferred|delayed: non-delivery report 4.4.7|message_id' \
	'a 4.x.x report is only recorded (deferred): not stopped, not suppressed'
is "$(pstatus "$(p 4)") $(steps "$(p 4)") $(suppressed "$(p 4)")" 'unsubscribed 1:sent 2:skipped unsubscribe' \
	'an opt-out: prospect unsubscribed, step skipped, address suppressed (reason unsubscribe)'
is "$(event_of "$(p 4)")" 'unsubscribed|opt-out: "unsubscribe"|message_id' 'with an unsubscribed event naming the word'
is "$(rows email_event "inbound_message_id IS NOT NULL")" 5 'the unrelated message recorded nothing'
is "$(sql "SELECT (delta_link LIKE '%deltatoken%') || ' ' || (sync_claimed_by IS NULL) || ' ' || (last_synced_at IS NOT NULL) FROM drip.email_identity")" \
	'true true true' 'the delta link is kept; the mailbox released and marked read'

# --- only what is new --------------------------------------------------------
n0=$(mock_ctl GET /_mock/log | jq length)	# the log file is written lazily; this is not
run inbox-sync
is "$(summary "$COUNTS")" '[1,0,0,0,0,0,0,0,0]' 'a second run reads nothing new'
is "$(mock_ctl GET /_mock/log | jq -r ".[$n0:][]"' | select(.path | test("/delta$")) | .query' | grep -c deltatoken)" 1 \
	'it asked with the delta link kept by the first'
answer reply "$(p 5)" '{"subject": "Undeliverable: your pitch", "body": "Ha, deliverable after all. Let us talk."}' >/dev/null
run inbox-sync
is "$(summary "$COUNTS") $(pstatus "$(p 5)")" '[1,1,1,0,0,0,0,0,0] replied' \
	'a third run reads the one new message: a person whose subject says Undeliverable replied'
is "$(rows email_event "inbound_message_id IS NOT NULL")" 6 'six inbound events in all'

# --- matched without In-Reply-To ---------------------------------------------
# a prospect writing afresh (another client, no thread), address in other case
inject "$(jq -nc --arg a "P6@K1.example" '{subject: "Your note", body: "Call me Monday?",
	from: {emailAddress: {address: $a}}, receivedDateTime: "2026-12-01T08:00:00Z"}')" >/dev/null
# a report from another system, in another conversation, with the original
# Message-ID only in its text
inject "$(jq -nc --arg m "$(imid "$(p 7)")" --arg a "$(p 7)" '{subject: "Undelivered Mail Returned to Sender",
	from: {emailAddress: {address: "MAILER-DAEMON@mx.k1.example", name: "Mail Delivery System"}},
	body: ("This is the mail system at host mx.k1.example (203.0.113.9).\n\n<\($a)>: host mx said: 550 5.1.1 user unknown\n\nFinal-Recipient: rfc822; \($a)\nAction: failed\nStatus: 5.1.1\n\nMessage-ID: \($m)\nSubject: Hello P7\n")}')" >/dev/null
run inbox-sync
is "$(summary '.replied, .bounced')" '[1,1]' 'a fresh message from a prospect and a Postfix report'
is "$(pstatus "$(p 6)") $(event_of "$(p 6)")" 'replied replied||address' 'the prospect writing afresh is matched by address'
is "$(pstatus "$(p 7)") $(event_of "$(p 7)") $(suppressed "$(p 7)")" \
	'bounced bounced|undeliverable: non-delivery report 5.1.1|message_id bounce' \
	'the report is matched by the Message-ID in its text'

# --- resync: 410 on the kept link, start over, nothing twice ------------------
before=$(sql "SELECT count(*) FROM drip.email_event")
mock_ctl POST /_mock/delta/invalidate '{}' >/dev/null
answer reply "$(p 1)" '{"body": "Back now. Yes, interested."}' >/dev/null
run inbox-sync -v
is "$rc $(summary '.resyncs, .messages, .replied, .duplicates, .unmatched')" '0 [1,10,1,8,1]' \
	'after 410 the inbox is read again from the start: the new reply recorded, the 8 known ones not again'
like "$err" 'delta link expired \(syncStateNotFound\): reading the inbox again' 'it says why'
is "$(sql "SELECT count(*) FROM drip.email_event") $(pstatus "$(p 1)")" "$((before + 1)) replied" \
	'one event more, no double'
mock_ctl POST /_mock/delta/invalidate '{"code": "resyncRequired"}' >/dev/null
run inbox-sync
is "$(summary '.resyncs, .messages, .replied, .duplicates') $(sql "SELECT count(*) FROM drip.email_event")" \
	"[1,10,0,9] $((before + 1))" 'resyncRequired is a resync too; still nothing twice'
run inbox-sync
is "$(summary '.resyncs, .messages')" '[0,0]' 'and the new delta link holds'

# --- what a sender writes cannot stop the mailbox -------------------------------
long="<$(head -c 3000 /dev/zero | tr '\0' a)@example.com>"
inject "$(jq -nc --arg id "$long" --arg r "$(imid "$(p 8)")" --arg a "$(p 8)" '{subject: "RE: Hello P8",
	body: "Sure.", from: {emailAddress: {address: $a}}, internetMessageId: $id,
	internetMessageHeaders: [{name: "In-Reply-To", value: $r}]}')" >/dev/null
run inbox-sync
is "$rc $(summary .replied) $(pstatus "$(p 8)") $(sql "SELECT length(inbound_message_id) < 998 FROM drip.email_event e JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id WHERE p.email = '$(p 8)' AND e.inbound_message_id IS NOT NULL")" \
	'0 [1] replied t' 'a 3,000-byte Message-ID (too long for an index) is recorded under its Graph id'

# --- the last step answered; campaigns that run out of prospects ----------------
make_campaign "$me" 1 '{"templates": [{"subject": "One", "body_text": "Only one"}]}'
c2=$CID
send >/dev/null
is "$(pstatus p0@k$K.example) $(sql "SELECT status FROM drip.email_campaign WHERE id = $c2")" 'finished finished' \
	'setup: a one-step campaign, sent: prospect and campaign finished'
answer reply p0@k$K.example >/dev/null
run inbox-sync
is "$(pstatus p0@k$K.example)" replied 'a reply to the last step: finished becomes replied'
make_campaign "$me" 1 '{"templates": [{"subject": "One", "body_text": "x"}, {"subject": "Two", "body_text": "y", "delay_days": 1}]}'
c3=$CID
send >/dev/null
answer optout p0@k$K.example >/dev/null
run inbox-sync
is "$(pstatus p0@k$K.example) $(sql "SELECT status FROM drip.email_campaign WHERE id = $c3")" 'unsubscribed finished' \
	'a running campaign whose last active prospect opts out is finished'

# --- --stop-on-auto-reply, --opt-out-words ----------------------------------------
make_campaign "$me" 3 '{"templates": [{"subject": "One", "body_text": "x"}, {"subject": "Two", "body_text": "y", "delay_days": 1}]}'
k=$K
send >/dev/null
answer auto_reply "p0@k$k.example" >/dev/null
run inbox-sync --stop-on-auto-reply
is "$(summary .auto_replies) $(pstatus "p0@k$k.example") $(steps "p0@k$k.example")" '[1] replied 1:sent 2:skipped' \
	'--stop-on-auto-reply: an automatic reply stops the sequence'
is "$(event_of "p0@k$k.example")" 'auto_replied|automatic reply: Auto-Submitted header|message_id' \
	'and is still recorded as an automatic reply'
printf '# ours\nabmelden\n\nnicht mehr schreiben\n' >"$T/words"
answer reply "p1@k$k.example" '{"body": "Bitte abmelden."}' >/dev/null
answer reply "p2@k$k.example" '{"body": "Please unsubscribe."}' >/dev/null
run inbox-sync --opt-out-words "$T/words"
is "$(pstatus "p1@k$k.example") $(pstatus "p2@k$k.example")" 'unsubscribed replied' \
	'--opt-out-words: the file'"'"'s words, and only those, make an opt-out'
must_fail 66 '--opt-out-words: a missing file' inbox-sync --opt-out-words "$T/nope"
: >"$T/empty"
must_fail 65 '--opt-out-words: a file without words' inbox-sync --opt-out-words "$T/empty"

# --- scope and refusals -------------------------------------------------------------
other=$(connect_mailbox beta x@beta.example)
mock_ctl POST /_mock/users/x@beta.example/inbox '{"subject": "hi", "body": "x"}' >/dev/null
run inbox-sync -c acme
is "$(summary '.identities, .messages')" '[1,0]' '-c: only that customer'"'"'s mailboxes'
run inbox-sync --identity "$other"
is "$(summary '.identities, .messages')" '[1,1]' '--identity: that mailbox only'
must_fail 66 '--identity of no mailbox: 66' inbox-sync --identity 999
must_fail 77 '--identity of another customer'"'"'s mailbox: 77' inbox-sync --identity "$other" -c acme
sql "UPDATE drip.email_identity SET status = 'needs_reauth' WHERE id = $other"
must_fail 77 '--identity of a mailbox that must be connected again: 77' inbox-sync --identity "$other"
like "$err" 'needs_reauth: connect it again' 'and says what to do'
run inbox-sync
is "$rc $(summary .identities)" '0 [1]' 'without --identity such mailboxes are left out'
must_fail 64 'a stray argument is a usage error' inbox-sync acme
must_fail 64 '--max-seconds must be a number' inbox-sync --max-seconds soon
like "$(inbox-sync --help)" '^usage: inbox-sync ' '--help prints the usage'

# --- Graph trouble is per mailbox -------------------------------------------------
sql "UPDATE drip.email_identity SET status = 'connected' WHERE id = $other"
third=$(connect_mailbox acme third@acme.example)
answer reply "p2@k$k.example" '{"body": "One more thing."}' >/dev/null
faults "{\"rules\": [{\"path\": \"/delta\$\", \"mailbox\": \"$ME\", \"status\": 503}]}"
run inbox-sync
is "$rc $(summary '.identities, .errors, .replied')" '69 [3,1,0]' \
	'Graph unavailable for one mailbox: exit 69, the others still read'
like "$err" "identity $me \\($ME\\): read inbox: .*503" 'the diagnostic names the mailbox'
is "$(sql "SELECT count(*) FROM drip.email_identity WHERE sync_claimed_by IS NOT NULL")" 0 \
	'no mailbox is left claimed'
faults '{}'
run inbox-sync
is "$rc $(summary '.replied, .duplicates')" '0 [1,0]' 'the next run reads what waited: nothing lost'
mock_ctl POST "/_mock/users/third@acme.example/revoke" >/dev/null
mock_ctl POST /_mock/tokens/expire >/dev/null
run inbox-sync
is "$rc $(sql "SELECT status FROM drip.email_identity WHERE id = $third")" '77 needs_reauth' \
	'a mailbox whose consent is gone: needs_reauth, exit 77'
like "$err" "identity $third .*connect it again" 'and it says so'
is "$(summary '.identities, .errors')" '[3,1]' 'the other mailboxes were read'

# --- standard output is one JSON object ---------------------------------------------
run inbox-sync -q
is "$(printf '%s\n' "$out" | jq -c 'type' | tr '\n' ' ')$err" '"object" ' '-q: the summary only, nothing on standard error'

# --- least privilege: drip_sender runs inbox-sync, drip_reader reads events ------------
u=$(echo "$_tap_db" | tr -c 'a-z0-9\n' _)
sql "SET client_min_messages = warning; DROP ROLE IF EXISTS ${u}_send; DROP ROLE IF EXISTS ${u}_read; DROP ROLE IF EXISTS ${u}_cust;
CREATE ROLE ${u}_send LOGIN IN ROLE drip_sender;
CREATE ROLE ${u}_read LOGIN IN ROLE drip_reader;
CREATE ROLE ${u}_cust LOGIN IN ROLE drip_customer;
INSERT INTO drip.customer_role VALUES ('${u}_cust', 'beta');
INSERT INTO drip.email_event (customer_id, type, identity_id) VALUES ('beta', 'failed', $other);"
at_exit "sql 'DROP OWNED BY ${u}_send, ${u}_read, ${u}_cust; DROP ROLE ${u}_send; DROP ROLE ${u}_read; DROP ROLE ${u}_cust'"
answer optout "$(p 9)" >/dev/null
run inbox-sync -d "$DATABASE_URL user=${u}_send"
is "$rc $(summary .unsubscribed) $(pstatus "$(p 9)") $(suppressed "$(p 9)")" '0 [1] unsubscribed unsubscribe' \
	'as a role with drip_sender only, inbox-sync records an opt-out: steps, prospect, suppression'
run events -d "$DATABASE_URL user=${u}_read" -t unsubscribed
is "$rc $(printf '%s\n' "$out" | wc -l)" "0 $(rows email_event "type = 'unsubscribed'")" 'drip_reader is enough for events'
run events -d "$DATABASE_URL user=${u}_cust"
is "$rc $(printf '%s\n' "$out" | jq -r .customer_id | sort -u | tr '\n' ' ')" '0 beta ' \
	'a customer-scoped role sees only its customer'"'"'s events'
