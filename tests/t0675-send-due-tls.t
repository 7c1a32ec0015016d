#!/bin/bash
# Over TLS, as drip reaches Graph and the identity platform in production,
# through a front that offers HTTP/2 as Graph does (nghttpx before the
# mock, tests/mock-graph/mock.sh): drip asks for HTTP/1.1 and gets it
# (lib/http.c says why); mailboxes connect through the device flow; a run
# sends every step once over kept-alive connections; 429s with a
# fractional Retry-After come through and their steps go a run later; an
# unreadable DRIP_CA_FILE stops the run before it claims; the front killed
# with sends in flight drops every connection at once, and nothing is lost
# or sent twice; inbox-sync follows Graph's links through it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 28
db_fresh
send_env
mock_tls_start || { echo "Bail out! the TLS front did not start"; exit 1; }
at_exit mock_tls_stop KILL
# requests the front took in another protocol than HTTP/1.1
not_http11() { awk '$1 != "http/1.1"' "$MOCK_TLS_LOG" | wc -l | tr -d ' '; }

ids=
for i in 1 2 3 4; do
	id=$(connect_mailbox acme "m$i@acme.example") || { echo "Bail out! cannot connect over TLS"; exit 1; }
	ids="$ids $id"
	first=${first:-$id}
	make_campaign "$id" 30
done
sql "UPDATE drip.email_identity SET rate_per_minute = 10000, daily_cap = 100000" >/dev/null
like "$(grep -c ' POST /organizations/oauth2/v2.0/token 200$' "$MOCK_TLS_LOG")" '^[1-9]' \
	"outlook-auth's device flow got its tokens through the front"
is "$(not_http11)" 0 'every request it made was HTTP/1.1 over TLS, though h2 was offered'

DRIP_CA_FILE=$T/no-such.pem must_fail 64 'an unreadable DRIP_CA_FILE: usage error (64)' send
like "$err" "DRIP_CA_FILE: $T/no-such.pem: No such file" 'naming the file and why'
is "$(rows email_campaign_prospect_step "status <> 'scheduled'")" 0 'and nothing was claimed'

# --- one run, 120 steps over 4 mailboxes, 32 requests in flight
: >"$MOCK_TLS_LOG"
run send --concurrency 32
is "$rc" 0 'send-due over TLS: exit 0'
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent]')" '[120,120]' 'it claimed and sent 120'
is "$(wc -l <"$MOCK_SENT_LOG" | tr -d ' ')" 120 'the mock delivered 120 messages'
is "$(sent_steps | sort -u | wc -l | tr -d ' ')" 120 'one for each step'
is "$(grep -c '^http/1.1 [0-9]* POST /v1.0/me/messages/[^ ]*/send 202$' "$MOCK_TLS_LOG")" 120 \
	'each send went out once, and Graph took it (202)'
is "$(not_http11)" 0 'every request HTTP/1.1 over TLS'
reqs=$(wc -l <"$MOCK_TLS_LOG" | tr -d ' ')
conns=$(awk '{print $2}' "$MOCK_TLS_LOG" | sort -u | wc -l | tr -d ' ')
ok "the $reqs requests reused $conns connections (at most --concurrency 32)" \
	test "$conns" -le 32 -a "$reqs" -ge $((conns * 3))

# --- 429 with a fractional Retry-After, through the front: the steps wait
# and go in a later run
make_campaign "$first" 6
c=$CID
faults '{"rules": [{"method": "POST", "path": "/send$", "status": 429, "retry_after": "0.4", "count": 4}]}'
run send
faults '{}'
is "$(grep -c '/send 429$' "$MOCK_TLS_LOG")" 4 'the front passed four 429s on'
is "$(printf '%s' "$out" | jq -c '[.sent, .deferred]')" '[2,4]' 'and their four steps were deferred'
export DRIP_NOW=$(minutes_after "$DRIP_NOW" 1)
run send
is "$(rows email_campaign_prospect_step "campaign_id = $c AND status = 'sent'")" 6 'a minute later all six are sent'
is "$(sent_steps | sort | uniq -d | wc -l | tr -d ' ')" 0 'none twice'

# --- the front killed while sends wait for their answers: Graph took
# them (the mock sends at once, then answers 3 s later), every connection
# breaks at once, and no answer comes. Those steps stay
# sending; later runs find them sent and send nothing twice.
for id in $ids; do make_campaign "$id" 25; done
faults '{"rules": [{"method": "POST", "path": "/send$", "latency_ms": 3000}]}'
n0=$(wc -l <"$MOCK_SENT_LOG")
ENABLE_EMAIL_SCHEDULER=true send-due --concurrency 64 --max-seconds 20 >"$T/k.out" 2>"$T/k.err" &
pid=$!
for _ in $(seq 200); do
	[ $(( $(wc -l <"$MOCK_SENT_LOG") - n0 )) -ge 8 ] && break
	sleep 0.05
done
inflight=$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))
mock_tls_stop KILL
wait $pid
diag "send-due after the front died: exit $?, $(jq -c . "$T/k.out" 2>/dev/null)"
unknown=$(rows email_campaign_prospect_step "status = 'sending'")
mock_tls_start || { echo "Bail out! the TLS front did not come back"; exit 1; }
faults '{}'
ok "sends in flight when the front died ($inflight sent by the mock, unanswered) stay sending ($unknown)" \
	test "$inflight" -ge 8 -a "$unknown" -ge "$inflight"
like "$(cat "$T/k.err")" 'outcome of send unknown, will reconcile' 'send-due said their outcome is unknown'
drain 10
is "$(( $(wc -l <"$MOCK_SENT_LOG") - n0 ))" 100 'later runs delivered the 100 messages'
is "$(sent_steps | sort | uniq -d | wc -l | tr -d ' ')" 0 'none of them twice'
is "$(rows email_campaign_prospect_step "status <> 'sent'")" 0 'every step is sent; nothing claimed, sending or in review'
is "$(rows email_event "type = 'sent'")" 226 'one sent event per step'

# --- inbox-sync over the front: three replies and 55 other messages in one
# Inbox, two pages (50 a page), the nextLink and the next run's deltaLink
# naming the front, as Graph's name the host drip addressed
ME=m1@acme.example
for a in p0@k1.example p1@k1.example p2@k1.example; do
	r=$(sql "SELECT m.internet_message_id FROM drip.email_message_metadata m
		JOIN drip.email_campaign_prospect p ON p.id = m.prospect_id
		WHERE p.email = '$a' ORDER BY m.id LIMIT 1")
	mock_ctl POST "/_mock/users/$ME/inbox" "$(jq -nc --arg r "$r" '{kind: "reply", in_reply_to: $r}')" >/dev/null
done
for i in $(seq 55); do
	mock_ctl POST "/_mock/users/$ME/inbox" "{\"subject\": \"News $i\", \"body\": \"Hello\", \"from\": {\"emailAddress\": {\"address\": \"news$i@example.net\"}}}" >/dev/null
done
: >"$MOCK_TLS_LOG"
run inbox-sync
is "$rc" 0 'inbox-sync over TLS: exit 0'
is "$(printf '%s' "$out" | jq -c '[.replied, .unmatched]')" '[3,55]' 'it read the three replies and the 55 others'
like "$(grep -c 'skiptoken=[^ ]* 200$' "$MOCK_TLS_LOG")" '^[1-9]' 'it followed the nextLink through the front'
run inbox-sync
is "$(printf '%s' "$out" | jq -c '[.messages, .replied]')" '[0,0]' 'the next run reads nothing new'
like "$(grep -c 'deltatoken=[^ ]* 200$' "$MOCK_TLS_LOG")" '^[1-9]' 'through the deltaLink, also through the front'
is "$(not_http11)" 0 'every request HTTP/1.1 over TLS'
