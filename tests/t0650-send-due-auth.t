#!/bin/bash
# Tokens during a run: an access token Graph no longer accepts is refreshed
# once and the send goes; a mailbox whose consent is gone is set to
# needs_reauth and its steps wait, none failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 7
db_fresh
send_env

me=$(connect_mailbox acme sales@acme.example)
make_campaign "$me" 2

mock_ctl POST /_mock/tokens/expire >/dev/null
run send
is "$(printf '%s' "$out" | jq -c '[.sent, .failed, .deferred]')" '[2,0,0]' '401 mid-run: refreshed, then sent'
like "$(jq -r 'select(.status == 401) | .path' "$MOCK_LOG" | head -1)" '/v1.0/me/messages' 'Graph did answer 401 first'
is "$(jq -r 'select(.path | test("/token$")) | .status' "$MOCK_LOG" | tail -1)" 200 'and the refresh grant succeeded'

make_campaign "$me" 2
mock_ctl POST /_mock/users/sales@acme.example/revoke >/dev/null
mock_ctl POST /_mock/tokens/expire >/dev/null
n0=$(wc -l <"$MOCK_SENT_LOG")
run send
is "$rc" 0 'a revoked mailbox does not fail the run'
is "$(sql "SELECT status FROM drip.email_identity WHERE id = $me")" needs_reauth 'the mailbox needs to be connected again'
is "$(rows email_campaign_prospect_step "campaign_id = $CID AND status = 'scheduled'")" 2 'its steps wait, scheduled'
is "$(wc -l <"$MOCK_SENT_LOG")" "$n0" 'and nothing was sent'
