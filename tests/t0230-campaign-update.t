#!/bin/sh
# campaign-show prints one campaign or a customer's campaigns; campaign-update
# changes whitelisted fields only, starts (scheduling step 1), pauses,
# resumes (overdue steps kept, none skipped) and archives (nothing more
# sent), refuses other transitions, and prints what campaign-show reads.
. "$(dirname "$0")/lib.sh"
plan 44

db_fresh
identity() {
	sql "INSERT INTO drip.email_identity (customer_id, email, status)
		VALUES (:'c', :'e', :'s') RETURNING id" -v c="$1" -v e="$2" -v s="${3:-connected}"
}
acme=$(identity acme sales@acme.example)
stale=$(identity acme old@acme.example needs_reauth)
other=$(identity globex sales@globex.example)
create() {	# jq filter applied to a draft campaign: its id
	jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Draft", identity_id: $id,
		timezone: "Europe/Berlin",
		templates: [{subject: "Hello", body_text: "Hi"}, {subject: "Again", body_text: "Hi", delay_days: 2}],
		prospects: [{email: "ann@example.com"}, {email: "bob@example.com", timezone: "America/New_York"}]}' |
		jq -c "$1" | campaign-create | jq .id
}
c1=$(create .)
c2=$(create '.name = "Empty" | .prospects = []')
g1=$(jq -cn --argjson id "$other" '{customer_id: "globex", name: "G", identity_id: $id}' | campaign-create | jq .id)

# campaign-show
run campaign-show "$c1"
is "$rc $(printf '%s\n' "$out" | jq -c '[.id, .name, .customer_id]')" "0 [$c1,\"Draft\",\"acme\"]" 'one campaign by id'
run campaign-show "$c2" "$c1"
is "$(printf '%s\n' "$out" | jq -c .id | tr '\n' ' ')" "$c2 $c1 " 'several ids: one line each, in the order given'
run campaign-show -c acme
is "$(printf '%s\n' "$out" | jq -c .id | tr '\n' ' ')" "$c1 $c2 " "--customer: that customer's campaigns only, as JSON Lines"
is "$(campaign-show --customer acme | head -n 1)" "$(campaign-show "$c1")" '--customer prints each campaign as by id'
run campaign-show --customer nobody
is "$rc:$out" '0:' 'a customer without campaigns: no output, exit 0'
must_fail 66 'a campaign that does not exist' campaign-show 9999
is "$err" 'campaign-show: no campaign 9999' 'and says which'
must_fail 64 'no campaign id' campaign-show
must_fail 64 'ids and --customer together' campaign-show -c acme "$c1"
must_fail 64 'an id that is not a number' campaign-show 1x

# rejects CODE REGEX DESC ID JSON: exit CODE, a matching diagnostic, and
# neither the campaign row nor any table changed.
rejects() {
	_before="$(table_counts) $(sql "SELECT md5(c::text) FROM drip.email_campaign c WHERE id = $4")"
	printf '%s' "$5" >"$T/in.json"
	run campaign-update "$4" <"$T/in.json"
	_m=no
	printf '%s\n' "$err" | grep -Eq -- "$2" && _m=yes
	_s=no
	[ "$(table_counts) $(sql "SELECT md5(c::text) FROM drip.email_campaign c WHERE id = $4")" = "$_before" ] && _s=yes
	is "rc=$rc match=$_m unchanged=$_s" "rc=$1 match=yes unchanged=yes" "$3" || diag "stderr: $err"
}

rejects 65 '^campaign-update: customer_id: unknown field$' 'the customer cannot change' "$c1" '{"customer_id": "globex"}'
rejects 65 '^campaign-update: templates: unknown field$' 'steps are not updated here' "$c1" '{"templates": []}'
rejects 65 '^campaign-update: key: unknown field$' 'nor the key' "$c1" '{"key": "k"}'
rejects 65 '^campaign-update: send_window\.hours: unknown field$' 'unknown field in the window' "$c1" '{"send_window": {"hours": 1}}'
rejects 65 '^campaign-update: name: must be a string$' 'a wrong type' "$c1" '{"name": 7}'
rejects 65 '^campaign-update: name: must not be empty$' 'an empty name' "$c1" '{"name": ""}'
rejects 65 '^campaign-update: timezone: unknown time zone$' 'a bad time zone' "$c1" '{"timezone": "Europe/Atlantis"}'
rejects 65 '^campaign-update: status: must be draft, running, paused, finished or archived$' 'an unknown status' \
	"$c1" '{"status": "stopped"}'
rejects 65 '^campaign-update: send_window: start \(18:00\) must be before end \(17:00\)$' \
	'a new start checked against the stored end' "$c1" '{"send_window": {"start": "18:00"}}'
rejects 77 "^campaign-update: identity_id: identity $other belongs to another customer$" \
	'the identity of another customer' "$c1" "{\"identity_id\": $other}"
rejects 66 '^campaign-update: identity_id: no identity 9999$' 'an identity that does not exist' "$c1" '{"identity_id": 9999}'
rejects 66 '^campaign-update: no campaign 9999$' 'a campaign that does not exist' 9999 '{"name": "x"}'
rejects 65 '^campaign-update: status: a campaign cannot go from draft to paused$' 'draft cannot pause' \
	"$c1" '{"status": "paused"}'
rejects 65 '^campaign-update: status: a running campaign needs at least one prospect$' \
	'starting without prospects' "$c2" '{"status": "running"}'
rejects 65 '^campaign-update: status: running needs a connected sender identity' \
	'starting with a mailbox to connect again' "$c1" "{\"status\": \"running\", \"identity_id\": $stale}"

# Fields.
run campaign-update "$c1" <<EOF
{"name": "Renamed", "send_window": {"days": ["tue", "mon"], "end": "12:00"}, "daily_cap": 25, "identity_id": $stale}
EOF
is "$rc $(printf '%s' "$out" | jq -c '[.name, .send_window, .daily_cap, .identity]')" \
	"0 [\"Renamed\",{\"days\":[\"mon\",\"tue\"],\"start\":\"09:00\",\"end\":\"12:00\"},25,{\"id\":$stale,\"email\":\"old@acme.example\"}]" \
	'fields change; a window given in part keeps the rest'
is "$out" "$(campaign-show "$c1")" 'rehydrate: campaign-update prints what campaign-show reads back'
run campaign-update "$c1" <<EOF
{"daily_cap": null, "identity_id": $acme, "send_window": {"days": ["mon","tue","wed","thu","fri"], "end": "17:00"}}
EOF
is "$(printf '%s' "$out" | jq -c '[.daily_cap, .identity_id]')" "[null,$acme]" 'daily_cap null removes the cap'
before=$(sql "SELECT updated_at FROM drip.email_campaign WHERE id = $c1")
run campaign-update "$c1" <<EOF
{}
EOF
is "$rc $(sql "SELECT updated_at FROM drip.email_campaign WHERE id = $c1")" "0 $before" 'an empty object changes nothing'

# Start: step 1 for each active prospect, in its window (Saturday: Monday 09:00).
DRIP_NOW=2026-03-07T12:00:00Z run campaign-update "$c1" <<EOF
{"status": "running"}
EOF
is "$rc $(printf '%s' "$out" | jq -c '[.status, .counts.steps.scheduled]')" '0 ["running",2]' 'draft to running schedules step 1'
due() {
	sql "SELECT string_agg(p.email || '=' || s.step || ':' || s.status || ':' || drip.rfc3339(s.due_at), ' ' ORDER BY p.email, s.step)
		FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
		WHERE s.campaign_id = $1"
}
is "$(due "$c1")" 'ann@example.com=1:scheduled:2026-03-09T08:00:00Z bob@example.com=1:scheduled:2026-03-09T13:00:00Z' \
	"each due Monday 09:00 in its own zone"
is "$out" "$(campaign-show "$c1")" 'rehydrate after starting'
rejects 65 '^campaign-update: status: a campaign cannot go from running to draft$' 'running cannot go back to draft' \
	"$c1" '{"status": "draft"}'

# A window change moves the steps that fall outside it, and only those.
DRIP_NOW=2026-03-07T12:00:00Z run campaign-update "$c1" <<EOF
{"send_window": {"start": "10:00"}}
EOF
is "$(due "$c1")" 'ann@example.com=1:scheduled:2026-03-09T09:00:00Z bob@example.com=1:scheduled:2026-03-09T14:00:00Z' \
	'a later start moves scheduled steps into the new window'

# Pause, and resume: an overdue step stays as it was, new work is scheduled.
run campaign-update "$c1" <<EOF
{"status": "paused"}
EOF
is "$rc $(printf '%s' "$out" | jq -r .status) $(due "$c1" | tr ' ' '\n' | grep -c scheduled)" '0 paused 2' \
	'running to paused; the scheduled steps wait'
# ann sent her last step (2) and finished; cid arrived while paused (as prospect-import adds).
sql "UPDATE drip.email_campaign_prospect_step s SET status = 'sent', sent_at = '2026-03-09T09:00:00Z'
	FROM drip.email_campaign_prospect p WHERE p.id = s.prospect_id AND p.email = 'ann@example.com';
	UPDATE drip.email_campaign_prospect SET last_step = 2, last_sent_at = '2026-03-09T09:00:00Z', status = 'finished'
	WHERE email = 'ann@example.com' AND campaign_id = $c1;
	INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES ('acme', $c1, 'cid@example.com')"
printf '%s\n' '{"subject": "Third", "body_text": "3", "delay_days": 1}' | template-add -c "$c1" >/dev/null
is "$(due "$c1")" 'ann@example.com=1:sent:2026-03-09T09:00:00Z bob@example.com=1:scheduled:2026-03-09T14:00:00Z' \
	'a paused campaign schedules nothing, not even for a new step'
DRIP_NOW=2026-03-12T11:00:00Z run campaign-update "$c1" <<EOF
{"status": "running"}
EOF
is "$(due "$c1")" \
	'ann@example.com=1:sent:2026-03-09T09:00:00Z ann@example.com=3:scheduled:2026-03-12T11:00:00Z bob@example.com=1:scheduled:2026-03-09T14:00:00Z cid@example.com=1:scheduled:2026-03-12T11:00:00Z' \
	'resumed: the overdue step is kept as it was (not skipped, not moved); new prospects and steps are scheduled'
is "$(sql "SELECT status FROM drip.email_campaign_prospect WHERE email = 'ann@example.com' AND campaign_id = $c1")" active \
	'the finished prospect is active again'

# Archive: nothing more is ever sent.
run campaign-update "$c1" <<EOF
{"status": "archived"}
EOF
is "$rc $(printf '%s' "$out" | jq -c '[.status, .counts.steps.scheduled, .counts.steps.skipped, .counts.steps.sent]')" \
	'0 ["archived",0,3,1]' 'archived: every scheduled step is skipped, the sent one stays'
is "$(sql "SELECT DISTINCT last_error FROM drip.email_campaign_prospect_step WHERE campaign_id = $c1 AND status = 'skipped'")" \
	'campaign archived' 'and says why'
rejects 65 '^campaign-update: status: a campaign cannot go from archived to running$' 'archived is final' \
	"$c1" '{"status": "running"}'
run campaign-update "$c1" <<EOF
{"status": "archived"}
EOF
is "$rc" 0 'archiving again is no change'
run campaign-update "$c2" <<EOF
{"status": "archived"}
EOF
is "$rc $(printf '%s' "$out" | jq -r .status)" '0 archived' 'a draft can be archived'
sql "UPDATE drip.email_campaign SET status = 'finished' WHERE id = $g1"
rejects 65 '^campaign-update: status: a campaign cannot go from finished to running$' 'finished does not restart' \
	"$g1" '{"status": "running"}'
