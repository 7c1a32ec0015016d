#!/bin/sh
# quickstart.sh: from an empty database to a campaign ready to send.
# Needs DATABASE_URL, DRIP_CLIENT_ID and DRIP_KEY_FILE (see README).
set -eu
here=$(dirname "$0")
customer=${CUSTOMER:-acme}

db-migrate -q
# Prints Microsoft's sign-in instructions on standard error and waits.
mailbox=$(outlook-auth --customer "$customer" | jq -r .id)
campaign=$(jq --argjson id "$mailbox" --arg c "$customer" \
	'.identity_id = $id | .customer_id = $c | del(.key)' "$here/campaign.json" |
	campaign-create | jq -r .id)
prospect-import --campaign "$campaign" --csv --skip-invalid <"$here/prospects.csv" >/dev/null 2>&1
campaign-show "$campaign" | jq -c '{id, name, status, prospects: .counts.prospects}'
# What send-due would send now (nothing if it is outside the window):
send-due --dry-run | jq -c '{to, subject}' | head -n 3
