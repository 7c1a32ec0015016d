#!/bin/bash
# send-due and the limit on open files: each request in flight holds a
# socket, so --concurrency N needs more descriptors than a shell's or
# systemd's default soft limit (1024) allows when N is large. send-due
# raises its soft limit as far as the hard limit lets it; below that it
# says so and runs fewer requests at once. Either way no send is lost to
# a descriptor it could not open (before this, such sends were deferred
# with "Couldn't connect to server").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 10
db_fresh
send_env

# Ten mailboxes, four requests each at once (Outlook's limit): forty
# connections held open by the mock's latency.
for m in $(seq 10); do
	echo "$(connect_mailbox acme "m$m@acme.example")"
done >"$T/mailboxes"
campaigns() {	# a campaign of 8 prospects on every mailbox
	while read -r id; do make_campaign "$id" 8 || return 1; done <"$T/mailboxes"
}
campaigns || bail 'campaign-create failed'
faults '{"latency_ms": 150}'

# --- a soft limit of 24, the hard one well above: raised, all sent
run bash -c 'ulimit -S -n 24 && ENABLE_EMAIL_SCHEDULER=true send-due -v --concurrency 64'
is "$rc" 0 'soft limit 24: send-due exits 0'
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]')" '[80,0]' \
	'soft limit 24: all 80 sent, none deferred'
is "$(printf '%s\n' "$err" | grep 'open files')" \
	'send-due: open files: soft limit raised from 24 to 208' \
	'soft limit 24: raised to what 64 requests need (-v says so), and nothing else said of it'
is "$(sent_steps | sort | uniq -d | wc -l)" 0 'no step sent twice'

# --- a hard limit of 32: fewer requests at once, said once, all sent
campaigns || bail 'campaign-create failed'
run bash -c 'ulimit -n 32 && ENABLE_EMAIL_SCHEDULER=true send-due --concurrency 64'
is "$rc" 0 'hard limit 32: send-due exits 0'
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]')" '[80,0]' \
	'hard limit 32: all 80 sent, none deferred'
like "$err" '^send-due: --concurrency 64: needs 208 open files, the limit is 32: 5 requests at once$' \
	'hard limit 32: it says how many requests it runs at once, and why'
is "$(printf '%s\n' "$err" | grep -c 'open files')" 1 'once'
is "$(sent_steps | wc -l):$(sent_steps | sort -u | wc -l)" '160:160' \
	'the mock received 160 different steps, each once'
is "$(rows email_campaign_prospect_step "status = 'sent'")" 160 'and 160 steps are sent'
