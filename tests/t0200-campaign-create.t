#!/bin/sh
# campaign-create: the whitelist at every level, every error with its path
# and not one row written; identities of other customers refused; defaults
# stored and printed; the idempotency key; step 1 scheduled inside each
# prospect's window when the campaign starts running.
. "$(dirname "$0")/lib.sh"
plan 70

db_fresh
identity() {	# customer email [status]: the new identity's id
	sql "INSERT INTO drip.email_identity (customer_id, email, status)
		VALUES (:'c', :'e', :'s') RETURNING id" -v c="$1" -v e="$2" -v s="${3:-connected}"
}
acme=$(identity acme sales@acme.example)
stale=$(identity acme old@acme.example needs_reauth)
other=$(identity globex sales@globex.example)
sql "INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES
	('acme', 'dan@example.com', 'address'), ('acme', 'blocked.example', 'domain'),
	('globex', 'ann@example.com', 'address')"

base=$(jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Q1 founders", identity_id: $id,
	templates: [{subject: "Quick question, {{first_name|there}}", body_text: "Hi {{first_name|there}}"},
		{subject: "Re: Quick question", body_html: "<p>Following up, {{first_name|there}}</p>"}],
	prospects: [{email: "ann@example.com", first_name: "Ann", fields: {industry: "fintech"}},
		{email: "bob@example.org", timezone: "America/New_York"}]}')
with() { printf '%s' "$base" | jq -c "$1"; }

# rejects CODE REGEX DESC JSON: campaign-create exits CODE, a diagnostic
# matches REGEX, and the row count of every drip table is unchanged.
rejects() {
	_before=$(table_counts)
	printf '%s' "$4" >"$T/in.json"
	run campaign-create <"$T/in.json"
	_m=no
	printf '%s\n' "$err" | grep -Eq -- "$2" && _m=yes
	_s=no
	[ "$(table_counts)" = "$_before" ] && _s=yes
	is "rc=$rc match=$_m unchanged=$_s out=${out:+some}" "rc=$1 match=yes unchanged=yes out=" "$3" ||
		diag "stderr: $err"
}

# The whitelist, level by level.
rejects 65 '^campaign-create: colour: unknown field$' 'unknown field at the top' "$(with '.colour = "red"')"
rejects 65 '^campaign-create: send_window\.hours: unknown field$' 'unknown field in send_window' \
	"$(with '.send_window = {days: ["mon"], hours: 8}')"
rejects 65 '^campaign-create: templates\[1\]\.sender: unknown field$' 'unknown field in a template' \
	"$(with '.templates[1].sender = "x"')"
rejects 65 '^campaign-create: templates\[0\]\.step: unknown field$' 'steps are numbered by position, not given' \
	"$(with '.templates[0].step = 1')"
rejects 65 '^campaign-create: prospects\[1\]\.phone: unknown field$' 'unknown field in a prospect' \
	"$(with '.prospects[1].phone = "555"')"
rejects 65 '^campaign-create: prospects\[0\]\.fields\.age: must be a string$' 'fields values must be strings' \
	"$(with '.prospects[0].fields.age = 41')"
rejects 65 '^campaign-create: identity_id: must be a whole number$' 'a wrong type' "$(with '.identity_id = "1"')"
rejects 65 '^campaign-create: templates: must be an array$' 'a wrong type for a list' "$(with '.templates = {}')"
rejects 65 '^campaign-create: daily_cap: must be from 0 to 1000000$' 'a number out of range' "$(with '.daily_cap = -1')"
rejects 65 '^campaign-create: name: required$' 'a required field missing' "$(with 'del(.name)')"
rejects 65 '^campaign-create: customer_id: longer than 200 bytes$' 'customer_id at most 200 characters' \
	"$(with ".customer_id = \"$(printf 'c%.0s' $(seq 201))\"")"
rejects 65 '^campaign-create: status: must be draft or running$' 'a campaign is created draft or running' \
	"$(with '.status = "paused"')"

# Values.
rejects 65 '^campaign-create: prospects\[1\]\.email: no @$' 'an invalid email' "$(with '.prospects[1].email = "bob"')"
rejects 65 '^campaign-create: prospects\[2\]\.email: duplicate of prospects\[0\]$' \
	'a duplicate address, compared without case' "$(with '.prospects += [{email: "ANN@Example.COM"}]')"
rejects 65 '^campaign-create: timezone: unknown time zone$' 'a bad campaign time zone' \
	"$(with '.timezone = "Mars/Olympus"')"
rejects 65 '^campaign-create: prospects\[1\]\.timezone: unknown time zone$' 'a bad prospect time zone' \
	"$(with '.prospects[1].timezone = "EST5EDT/../x"')"
rejects 65 '^campaign-create: send_window\.days\[1\]: must be one of mon' 'a bad day' \
	"$(with '.send_window = {days: ["mon", "funday"]}')"
rejects 65 '^campaign-create: send_window\.days\[2\]: mon appears twice$' 'a day twice' \
	"$(with '.send_window = {days: ["mon", "tue", "mon"]}')"
rejects 65 '^campaign-create: send_window\.days: must not be empty$' 'no day at all' \
	"$(with '.send_window = {days: []}')"
rejects 65 '^campaign-create: send_window\.start: must be HH:MM' 'a start not in HH:MM' \
	"$(with '.send_window = {start: "9:00"}')"
rejects 65 '^campaign-create: send_window\.start: must be HH:MM' 'a window cannot start at 24:00' \
	"$(with '.send_window = {start: "24:00", end: "24:00"}')"
rejects 65 '^campaign-create: send_window\.end: must be HH:MM from 00:00 to 24:00$' 'an end past 24:00' \
	"$(with '.send_window = {end: "24:30"}')"
rejects 65 '^campaign-create: send_window: start must be before end$' 'a window that ends before it starts' \
	"$(with '.send_window = {start: "17:00", end: "09:00"}')"
rejects 65 '^campaign-create: send_window: start must be before end$' 'a start after the default end' \
	"$(with '.send_window = {start: "18:00"}')"

# Templates.
rejects 65 '^campaign-create: templates\[1\]: needs body_text or body_html$' 'a template without a body' \
	"$(with '.templates[1] = {subject: "s", body_text: ""}')"
rejects 65 '^campaign-create: templates\[0\]\.subject: must not be empty$' 'an empty subject' \
	"$(with '.templates[0].subject = ""')"
rejects 65 '^campaign-create: templates\[0\]\.body_text: unclosed \{\{ at line 2, column 4$' \
	'an unclosed variable, with its position' "$(with '.templates[0].body_text = "Hi\nyou{{first_name"')"
rejects 65 '^campaign-create: templates\[1\]\.subject: empty variable name at line 1, column 5$' \
	'an empty variable name, with its position' "$(with '.templates[1].subject = "Re: {{|x}}"')"
rejects 65 '^campaign-create: templates\[0\]\.thread: step 1 cannot be a reply$' 'step 1 is never a reply' \
	"$(with '.templates[0].thread = "reply"')"
rejects 65 '^campaign-create: templates\[1\]\.thread: must be new or reply$' 'a bad thread' \
	"$(with '.templates[1].thread = "forward"')"
rejects 65 '^campaign-create: templates\[1\]\.delay_days: must be from 0 to 365$' 'a delay beyond a year' \
	"$(with '.templates[1].delay_days = 366')"

# Starting needs a sender, a step and a prospect; each missing one is named.
rejects 65 '^campaign-create: templates: a running campaign needs at least one template$' \
	'running without templates' "$(with '.status = "running" | del(.templates)')"
rejects 65 '^campaign-create: prospects: a running campaign needs at least one prospect$' \
	'running without prospects' "$(with '.status = "running" | .prospects = []')"
rejects 65 '^campaign-create: status: running needs a connected sender identity, identity [0-9]+ is needs_reauth' \
	'running with a mailbox that must be connected again' "$(with ".status = \"running\" | .identity_id = $stale")"

# Identities.
rejects 77 "^campaign-create: identity_id: identity $other belongs to another customer$" \
	'the identity of another customer' "$(with ".identity_id = $other")"
rejects 66 '^campaign-create: identity_id: no identity 9999$' 'an identity that does not exist' \
	"$(with '.identity_id = 9999')"

# Input that is not one object.
rejects 65 '^campaign-create: line 1: (invalid|truncated) JSON' 'invalid JSON' '{"customer_id": '
rejects 65 'expected one JSON object, found more' 'two objects' "$base$base"
rejects 65 'expected a JSON object' 'an array' '[]'

# Every error at once, not only the first.
with '.colour = 1 | .templates[0].x = 1 | .prospects[1].email = "bad" | .send_window = {start: "x"}' >"$T/in.json"
run campaign-create <"$T/in.json"
is "$rc $(printf '%s\n' "$err" | wc -l)" '65 4' 'every error is reported, one per line'

# Defaults, stored and printed, and the output is what campaign-show reads.
printf '{"customer_id": "acme", "name": "Minimal", "identity_id": %s}' "$stale" >"$T/in.json"
run campaign-create <"$T/in.json"
is "$rc" 0 'a draft needs only customer, name and identity (any status of mailbox)'
is "$(printf '%s' "$out" | jq -c '[.status, .timezone, .send_window, .daily_cap, .key, .templates, .identity]')" \
	"[\"draft\",\"UTC\",{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"start\":\"09:00\",\"end\":\"17:00\"},null,null,[],{\"id\":$stale,\"email\":\"old@acme.example\"}]" \
	'defaults: draft, UTC, Monday to Friday 09:00-17:00, no cap'
is "$(sql "SELECT status, timezone, send_days, send_start, send_end FROM drip.email_campaign WHERE name = 'Minimal'")" \
	'draft|UTC|{mon,tue,wed,thu,fri}|09:00:00|17:00:00' 'and the defaults are stored, not only printed'
id=$(printf '%s' "$out" | jq .id)
is "$(campaign-show "$id")" "$out" 'rehydrate: campaign-create prints what campaign-show reads back'
like "$(printf '%s' "$out" | jq -r '.created_at, .updated_at')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	'times are RFC 3339 in UTC'

with '.templates += [{subject: "Last", body_text: "Bye", delay_days: 7}] | .send_window = {days: ["fri", "mon"], end: "24:00"} | .daily_cap = 20' >"$T/in.json"
run campaign-create <"$T/in.json"
is "$(printf '%s' "$out" | jq -c '[.templates[] | [.step, .thread, .delay_days]]')" '[[1,"new",0],[2,"reply",3],[3,"reply",7]]' \
	'steps numbered from 1; step 1 new after 0 days, later ones reply after 3 unless given'
is "$(printf '%s' "$out" | jq -c '[.send_window, .daily_cap]')" '[{"days":["mon","fri"],"start":"09:00","end":"24:00"},20]' \
	'days stored in week order; a window may end at 24:00'
is "$(printf '%s' "$out" | jq -c '.counts')" \
	'{"prospects":{"active":2,"suppressed":0,"replied":0,"bounced":0,"unsubscribed":0,"finished":0,"failed":0},"steps":{"scheduled":0,"claimed":0,"sending":0,"sent":0,"failed":0,"suppressed":0,"skipped":0,"review":0}}' \
	'counts by status, every status named; a draft schedules nothing'
id=$(printf '%s' "$out" | jq .id)
is "$(sql "SELECT email || ':' || coalesce(first_name, '-') || ':' || coalesce(timezone, '-') || ':' || fields::text
	FROM drip.email_campaign_prospect WHERE campaign_id = $id ORDER BY id" | tr '\n' ' ')" \
	'ann@example.com:Ann:-:{"industry": "fintech"} bob@example.org:-:America/New_York:{} ' \
	'prospects stored with their fields, in input order'
is "$(printf '%s' "$out" | jq -c '.identity | keys')" '["email","id"]' 'the identity shows its id and address only'

# The key: a re-run is a no-op, a clash is an error.
with '.key = "q1-founders"' >"$T/keyed.json"
run campaign-create <"$T/keyed.json"
first=$out
before=$(table_counts)
jq . "$T/keyed.json" >"$T/in.json"	# the same content, laid out differently
run campaign-create <"$T/in.json"
is "$rc" 0 'the same key and content again exits 0'
is "$out" "$first" 'and prints the stored campaign'
is "$(table_counts)" "$before" 'and writes nothing'
is "$(rows email_campaign "key = 'q1-founders'")" 1 'one campaign under the key'
rejects 65 "^campaign-create: key: 'q1-founders' is taken by campaign [0-9]+, whose input was different$" \
	'the same key with other content' "$(jq -c '.name = "Other"' "$T/keyed.json")"
jq -c --argjson id "$other" '.customer_id = "globex" | .identity_id = $id' "$T/keyed.json" >"$T/in.json"
run campaign-create <"$T/in.json"
is "$rc $(rows email_campaign "key = 'q1-founders'")" '0 2' 'a key belongs to one customer: another may use it'
is "$(printf '%s' "$out" | jq -r '.counts.prospects | "\(.active) \(.suppressed)"')" '1 1' \
	"suppression is the customer's own: globex suppressed ann, acme did not"

# Two runs with one key at once: one writes, the other finds its campaign.
jq -c '.key = "race"' "$T/keyed.json" >"$T/race.json"
campaign-create <"$T/race.json" >"$T/ra" 2>&1 & pa=$!
campaign-create <"$T/race.json" >"$T/rb" 2>&1 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
is "$ra $rb $(rows email_campaign "key = 'race'")" '0 0 1' 'two concurrent runs with one key: both exit 0, one campaign'
is "$(jq -c .id "$T/ra")" "$(jq -c .id "$T/rb")" 'and both print it'

# Running: step 1 for each active prospect, inside its own window.
jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Running", identity_id: $id,
	status: "running", timezone: "Europe/Berlin",
	templates: [{subject: "Hello {{first_name|there}}", body_text: "Hi"},
		{subject: "Again", body_text: "Hi again", delay_days: 2}],
	prospects: [{email: "ny@example.com", timezone: "America/New_York"},
		{email: "berlin@example.com"},
		{email: "tokyo@example.com", timezone: "Asia/Tokyo"},
		{email: "dan@example.com"},
		{email: "eve@mail.blocked.example"}]}' >"$T/running.json"
DRIP_NOW=2026-03-07T12:00:00Z run campaign-create <"$T/running.json"
is "$rc" 0 'a running campaign is created'
id=$(printf '%s' "$out" | jq .id)
is "$(printf '%s' "$out" | jq -c '[.status, .counts.prospects.active, .counts.prospects.suppressed, .counts.steps.scheduled]')" \
	'["running",3,2,3]' 'suppressed prospects stored as suppressed; one step per active prospect'
is "$(sql "SELECT count(*) || ' ' || count(DISTINCT e.prospect_id) || ' ' || bool_and(p.status = 'suppressed' AND e.step_id IS NULL)
	FROM drip.email_event e JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id
	WHERE e.type = 'suppressed' AND e.campaign_id = $id")" '2 2 true' \
	'each suppressed prospect has its event suppressed, with no step'
is "$(sql "SELECT string_agg(p.email || '=' || drip.rfc3339(s.due_at), ' ' ORDER BY p.email)
	FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
	WHERE s.campaign_id = $id AND s.step = 1 AND s.status = 'scheduled'")" \
	'berlin@example.com=2026-03-09T08:00:00Z ny@example.com=2026-03-09T13:00:00Z tokyo@example.com=2026-03-09T00:00:00Z' \
	"from a Saturday: Monday 09:00 in each prospect's zone (New York already on daylight time)"
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p
	ON p.id = s.prospect_id WHERE s.campaign_id = $id AND p.status = 'suppressed'")" 0 \
	'no step for a suppressed prospect'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE campaign_id = $id AND step > 1")" 0 \
	'only step 1 is scheduled'
is "$(campaign-show "$id")" "$out" 'rehydrate: the running campaign as campaign-show reads it'

jq -c '.name = "Now" | .prospects = [{email: "x@example.com"}]' "$T/running.json" >"$T/in.json"
DRIP_NOW=2026-03-10T10:30:00Z run campaign-create <"$T/in.json"
is "$(sql "SELECT drip.rfc3339(due_at) FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign c
	ON c.id = s.campaign_id WHERE c.name = 'Now'")" 2026-03-10T10:30:00Z 'inside the window: due at once'
jq -c '.name = "Later" | .templates[0].delay_days = 2 | .prospects = [{email: "x@example.com"}]' \
	"$T/running.json" >"$T/in.json"
DRIP_NOW=2026-03-06T10:30:00Z run campaign-create <"$T/in.json"
is "$(sql "SELECT drip.rfc3339(due_at) FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign c
	ON c.id = s.campaign_id WHERE c.name = 'Later'")" 2026-03-09T08:00:00Z \
	'a delay on step 1 counts from the start: Friday + 2 days is Sunday, so Monday 09:00'

# Many prospects go in set-wise, in one transaction.
n=20000
seq 1 $n | jq -cR '{email: "p\(.)@bulk.example", first_name: "P\(.)"}' | jq -cs \
	--argjson id "$acme" '{customer_id: "acme", name: "Bulk", identity_id: $id, status: "running",
	templates: [{subject: "s", body_text: "b"}], prospects: .}' >"$T/bulk.json"
start=$(date +%s)
run campaign-create <"$T/bulk.json"
secs=$(( $(date +%s) - start ))
is "$rc $(printf '%s' "$out" | jq -c '[.counts.prospects.active, .counts.steps.scheduled]')" "0 [$n,$n]" \
	"$n prospects and $n first steps written"
diag "campaign-create with $n prospects: ${secs}s"
jq -c '.name = "Bulk 2" | .prospects[19999].email = "p1@BULK.example"' "$T/bulk.json" >"$T/in.json"
run campaign-create <"$T/in.json"
is "$rc $(printf '%s\n' "$err" | grep -c 'prospects\[19999\]\.email: duplicate of prospects\[0\]')" '65 1' \
	'a duplicate among many is found, with its index'
