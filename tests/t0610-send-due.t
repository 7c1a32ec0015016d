#!/bin/bash
# send-due, one run at a time: the scheduler switch, what is sent and what
# is recorded, threads, suppression at send time, rendering failures,
# paused and archived campaigns, refused recipients, dry runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 34
db_fresh
send_env

me=$(connect_mailbox acme sales@acme.example)
make_campaign "$me" 3 '{"templates": [
	{"subject": "Hello {{first_name|there}}", "body_text": "Hi {{first_name|there}}"},
	{"subject": "Re: Hello", "body_html": "<p>Again, {{first_name}}</p>", "delay_days": 2, "thread": "reply"}]}'
cid=$CID

# --- the switch: anything but exactly "true" writes nothing and sends nothing
before=$(table_counts)
reqs=$(wc -l <"$MOCK_LOG")
for v in unset false TRUE; do
	if [ $v = unset ]; then run send-due; else run env ENABLE_EMAIL_SCHEDULER=$v send-due; fi
	is "$rc:$out" "0:" "ENABLE_EMAIL_SCHEDULER $v: exit 0, nothing on standard output"
done
like "$err" '^send-due: scheduler disabled' 'and it says so on standard error'
is "$(table_counts)" "$before" 'no row written while disabled'
is "$(wc -l <"$MOCK_LOG")" "$reqs" 'no request to Graph while disabled'

# --- dry run: what would go, rendered; nothing written, nothing sent
run send-due --dry-run
is "$(printf '%s\n' "$out" | jq -s -c 'map(.subject) | sort')" \
	'["Hello P0","Hello P1","Hello P2"]' 'dry run lists the due steps, rendered'
is "$(table_counts)" "$before" 'dry run writes nothing'

# --- a run: step 1 to each prospect, exactly once, with the bookkeeping
run send
is "$rc" 0 'send-due exits 0'
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent, .failed]')" '[3,3,0]' 'summary: 3 claimed, 3 sent'
is "$(sent_steps | sort -n | tr '\n' ' ')" "$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) || ' ' FROM drip.email_campaign_prospect_step WHERE step = 1")" \
	'the mock received each step 1 once, tagged with its step id'
is "$(rows email_campaign_prospect_step "step = 1 AND status = 'sent'")" 3 'the steps are sent'
is "$(rows email_event "type = 'sent'")" 3 'one sent event each'
is "$(rows email_message_metadata "sent_at IS NOT NULL AND graph_message_id <> '' AND conversation_id <> ''")" 3 \
	'message ids and conversation recorded for each'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE step = 2 AND status = 'scheduled' AND due_at = '2026-12-02T10:00:00Z'")" 3 \
	'step 2 scheduled two days after the send'
run send
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent]')" '[0,0]' 'a second run at the same moment finds nothing due'

# --- step 2 replies in the same conversation
DRIP_NOW=2026-12-02T10:00:00Z send >/dev/null
is "$(jq -s -c 'group_by(.conversationId) | map(length) | sort' "$MOCK_SENT_LOG")" '[2,2,2]' \
	'each reply step shares its first message'"'"'s conversation'
is "$(jq -r 'select(.subject | test("^R[Ee]:")) | .body_type' "$MOCK_SENT_LOG" | sort -u)" 'html' \
	'the reply carries the HTML body'
is "$(sql "SELECT string_agg(DISTINCT status, ',') FROM drip.email_campaign_prospect WHERE campaign_id = $cid")" finished \
	'after the last step every prospect is finished'
is "$(sql "SELECT status FROM drip.email_campaign WHERE id = $cid")" finished 'and the campaign with them'

# --- suppression at send time, per customer: address, domain, another customer's
export DRIP_NOW=2026-12-07T10:00:00Z
make_campaign "$me" 4
c2=$CID
sql "INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES
	('acme', 'p0@k$K.example', 'address'),
	('other', 'p1@k$K.example', 'address'),
	('acme', 'sub.example', 'domain')" >/dev/null
sql "UPDATE drip.email_campaign_prospect SET email = 'p2@deep.sub.example' WHERE campaign_id = $c2 AND email = 'p2@k$K.example'"
n0=$(wc -l <"$MOCK_SENT_LOG")
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .suppressed]')" '[2,2]' 'suppressed by address and by parent domain: not sent'
is "$(tail -n +$((n0 + 1)) "$MOCK_SENT_LOG" | jq -r '.to[0]' | sort | tr '\n' ' ')" "p1@k$K.example p3@k$K.example " \
	'another customer'"'"'s entry does not stop a send'
is "$(sql "SELECT string_agg(p.status || '/' || s.status, ',' ORDER BY p.id) FROM drip.email_campaign_prospect p JOIN drip.email_campaign_prospect_step s ON s.prospect_id = p.id WHERE p.campaign_id = $c2 AND p.status = 'suppressed'")" \
	'suppressed/suppressed,suppressed/suppressed' 'prospect and step marked suppressed'
is "$(rows email_event "type = 'suppressed' AND campaign_id = $c2")" 2 'with an event each'

# --- a template variable without a value fails the step; nothing is sent
make_campaign "$me" 1 '{"templates": [{"subject": "For {{company}}", "body_text": "x"}]}'
c3=$CID
n0=$(wc -l <"$MOCK_SENT_LOG")
run send
is "$(wc -l <"$MOCK_SENT_LOG")" "$n0" 'a step with a missing variable is not sent'
is "$(sql "SELECT type || ': ' || reason FROM drip.email_event WHERE campaign_id = $c3")" \
	"$(sql "SELECT 'failed: ' || last_error FROM drip.email_campaign_prospect_step WHERE campaign_id = $c3")" \
	'the failed event carries the step'"'"'s reason'
like "$(sql "SELECT reason FROM drip.email_event WHERE campaign_id = $c3")" 'company' 'which names the variable'

# --- paused and archived campaigns are not sent; resumed ones send what is overdue
make_campaign "$me" 2
c4=$CID
make_campaign "$me" 2
c5=$CID
echo '{"status":"paused"}' | campaign-update "$c4" >/dev/null
echo '{"status":"archived"}' | campaign-update "$c5" >/dev/null
n0=$(wc -l <"$MOCK_SENT_LOG")
send >/dev/null
is "$(wc -l <"$MOCK_SENT_LOG")" "$n0" 'nothing of a paused or an archived campaign is sent'
echo '{"status":"running"}' | campaign-update "$c4" >/dev/null
DRIP_NOW=2026-12-08T10:00:00Z send >/dev/null
is "$(rows email_campaign_prospect_step "campaign_id = $c4 AND step = 1 AND status = 'sent'")" 2 \
	'resumed, the overdue steps go out, none skipped'
is "$(rows email_campaign_prospect_step "campaign_id = $c5 AND status IN ('sent', 'scheduled', 'claimed')")" 0 \
	'the archived campaign never sends'

# --- a refused recipient bounces, stops and is suppressed for the customer
export DRIP_NOW=2026-12-09T10:00:00Z
make_campaign "$me" 2
c6=$CID
faults "{\"invalid_recipients\": [\"p0@k$K.example\"]}"
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .bounced]')" '[1,1]' 'ErrorInvalidRecipients: bounced, the other sent'
is "$(sql "SELECT p.status || ' ' || (drip.suppressed_by('acme', p.email) IS NOT NULL) FROM drip.email_campaign_prospect p WHERE p.campaign_id = $c6 AND p.email = 'p0@k$K.example'")" \
	'bounced true' 'the prospect bounced and its address is suppressed'
is "$(rows email_event "campaign_id = $c6 AND type = 'bounced'")" 1 'one bounced event'
faults '{}'

# --- nothing left in flight
is "$(rows email_campaign_prospect_step "status IN ('claimed', 'sending')")" 0 'no step is left claimed or sending'
