#!/bin/bash
# Least privilege, with the real binary: send-due run as a login role that
# has only drip_sender (migration 007) claims, sends through the mock,
# refreshes an expired token and records everything; the same role cannot
# delete or rename a campaign, write one with campaign-create or change it
# with campaign-update.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 17
db_fresh
send_env

me=$(connect_mailbox acme sales@acme.example)
make_campaign "$me" 3
cid=$CID

u=$(echo "${_tap_db}_snd" | tr -c 'a-z0-9\n' _)
sql "SET client_min_messages = warning; DROP ROLE IF EXISTS $u; CREATE ROLE $u LOGIN IN ROLE drip_sender" >/dev/null
at_exit "sql 'DROP OWNED BY $u; DROP ROLE $u'"
OWNER_URL=$DATABASE_URL
SENDER_URL="$DATABASE_URL user=$u"
as_sender() {	# sql: run as the sender role, SQLSTATE on error
	printf '\\set VERBOSITY sqlstate\n%s\n' "$1" | psql -X -q -At -v ON_ERROR_STOP=1 -d "$SENDER_URL" 2>&1
}
is "$(as_sender 'SELECT current_user')" "$u" 'the role logs in as itself'
is "$(sql "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
	JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '$u'")" drip_sender 'and has drip_sender alone'

# send-due as that role
export DATABASE_URL=$SENDER_URL
run send
is "$rc" 0 'send-due runs as drip_sender'
is "$(printf '%s' "$out" | jq -c '[.claimed, .sent, .failed]')" '[3,3,0]' 'and sends every due step'
is "$(mock_sent_count sales@acme.example)" 3 'the mock received the three messages'
DATABASE_URL=$OWNER_URL
is "$(rows email_campaign_prospect_step "status = 'sent'")" 3 'the steps are recorded as sent'
is "$(rows email_event "type = 'sent'")" 3 'with their events'
is "$(rows email_message_metadata "sent_at IS NOT NULL")" 3 'and their message metadata'

# an expired access token: send-due refreshes it and stores the new one
mock_ctl POST /_mock/tokens/expire >/dev/null
make_campaign "$me" 2
before=$(sql "SELECT md5(access_token::text) FROM drip.email_identity WHERE id = $me")
DATABASE_URL=$SENDER_URL run send
is "$rc $(printf '%s' "$out" | jq -c .sent)" '0 2' 'after the token expired, it still sends as drip_sender'
isnt=$(sql "SELECT md5(access_token::text) <> '$before' FROM drip.email_identity WHERE id = $me")
is "$isnt" t 'having stored the refreshed, sealed token'

# what the role cannot do, with psql and with the tools
like "$(as_sender "DELETE FROM drip.email_campaign WHERE id = $cid")" 'ERROR: +42501$' 'it cannot DELETE a campaign'
like "$(as_sender "UPDATE drip.email_campaign SET name = 'x' WHERE id = $cid")" 'ERROR: +42501$' 'nor rename one'
like "$(as_sender "DELETE FROM drip.email_campaign_prospect")" 'ERROR: +42501$' 'nor delete prospects'
export DATABASE_URL=$SENDER_URL
must_fail 77 'campaign-update as drip_sender: permission denied (77)' \
	sh -c "echo '{\"name\": \"renamed\"}' | campaign-update $cid"
like "$err" '^campaign-update: .*permission denied' 'and says so'
must_fail 77 'campaign-create as drip_sender: permission denied (77)' \
	sh -c "jq -cn --argjson id $me '{customer_id: \"acme\", name: \"n\", identity_id: \$id}' | campaign-create"
DATABASE_URL=$OWNER_URL
is "$(sql "SELECT name || '/' || (SELECT count(*) FROM drip.email_campaign) FROM drip.email_campaign WHERE id = $cid")" \
	"campaign of mailbox $me/2" 'the campaign is as it was, and no other was made'
