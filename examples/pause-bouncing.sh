#!/bin/sh
# pause-bouncing.sh [MAX_PERCENT]: pause every running campaign whose
# bounces pass MAX_PERCENT (default 5) of what it sent; a sender's
# reputation is worth more than a campaign.
set -eu
max=${1:-5}

events --type sent --type bounced | jq -rs --argjson max "$max" '
	group_by(.campaign_id)[]
	| { id: .[0].campaign_id,
	    sent: map(select(.type == "sent")) | length,
	    bounced: map(select(.type == "bounced")) | length }
	| select(.sent > 0 and 100 * .bounced / .sent > $max)
	| .id' |
while read -r id; do
	if [ "$(campaign-show "$id" | jq -r .status)" = running ]; then
		echo '{"status": "paused"}' | campaign-update "$id" | jq -c '{id, status}'
	fi
done
