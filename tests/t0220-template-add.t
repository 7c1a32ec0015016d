#!/bin/sh
# template-add: steps appended or replaced while unsent, every error named
# with its position and nothing written, the output as campaign-show reads
# it back, and a running campaign that gains a step schedules it for the
# prospects who had finished.
. "$(dirname "$0")/lib.sh"
plan 36

db_fresh
acme=$(sql "INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'sales@acme.example') RETURNING id")
draft=$(jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Draft", identity_id: $id,
	templates: [{subject: "Hello", body_text: "Hi {{first_name|there}}"}],
	prospects: [{email: "ann@example.com"}]}' | campaign-create | jq .id)

# add CAMPAIGN [OPTIONS] <<JSON: template-add, with $out, $err, $rc
add() {
	_c=$1; shift
	run template-add -c "$_c" "$@"
}
# rejects CODE REGEX DESC CAMPAIGN [OPTIONS] <<JSON: the exit code, a
# diagnostic matching REGEX, and no drip table changed.
rejects() {
	_code=$1 _re=$2 _d=$3; shift 3
	_before=$(table_counts)
	_tpl=$(sql "SELECT string_agg(step || subject || delay_days || thread, ',' ORDER BY id) FROM drip.email_campaign_template")
	add "$@"
	_m=no
	printf '%s\n' "$err" | grep -Eq -- "$_re" && _m=yes
	_s=no
	[ "$(table_counts)" = "$_before" ] &&
		[ "$(sql "SELECT string_agg(step || subject || delay_days || thread, ',' ORDER BY id) FROM drip.email_campaign_template")" = "$_tpl" ] &&
		_s=yes
	is "rc=$rc match=$_m unchanged=$_s" "rc=$_code match=yes unchanged=yes" "$_d" || diag "stderr: $err"
}
show_templates() { campaign-show "$1" | jq -c ".templates[$2]"; }

add "$draft" <<'EOF'
{"subject": "Following up", "body_text": "Any thoughts, {{first_name|there}}?"}
EOF
is "$rc" 0 'a template is added'
is "$(printf '%s' "$out" | jq -c '[.step, .thread, .delay_days, .campaign_id]')" "[2,\"reply\",3,$draft]" \
	'appended as step 2: a reply after 3 days by default'
is "$(printf '%s' "$out" | jq -c .)" "$(show_templates "$draft" 1)" \
	'rehydrate: template-add prints what campaign-show reads back'

add "$draft" <<'EOF'
{"subject": "Third", "body_html": "<p>3</p>", "delay_days": 5, "thread": "new"}

{"subject": "Fourth", "body_text": "4", "delay_days": 0}
EOF
is "$(printf '%s\n' "$out" | jq -c '[.step, .thread, .delay_days]' | tr '\n' ' ')" '[3,"new",5] [4,"reply",0] ' \
	'JSON Lines: each appended in order, one output line each'
is "$(printf '%s\n' "$out" | jq -sc .)" "$(show_templates "$draft" '2:4')" 'and each as campaign-show reads it'

# Validation, with positions; nothing written.
rejects 65 '^template-add: body_text: unclosed \{\{ at line 2, column 5$' 'an unclosed {{ names line and column' \
	"$draft" <<'EOF'
{"subject": "s", "body_text": "Hi,\nsee {{company"}
EOF
rejects 65 '^template-add: subject: empty variable name at line 1, column 4$' 'an empty variable name' "$draft" <<'EOF'
{"subject": "Hi {{}}", "body_text": "b"}
EOF
rejects 65 "^template-add: body_html: invalid variable name 'first name' at line 1, column 4" \
	'an invalid variable name' "$draft" <<'EOF'
{"subject": "s", "body_html": "<p>{{first name}}</p>"}
EOF
rejects 65 '^template-add: subject: must not be empty$' 'an empty subject' "$draft" <<'EOF'
{"subject": "", "body_text": "b"}
EOF
rejects 65 '^template-add: input: needs body_text or body_html$' 'no body' "$draft" <<'EOF'
{"subject": "s", "body_html": null}
EOF
rejects 65 '^template-add: delay_days: must be from 0 to 365$' 'a delay beyond a year' "$draft" <<'EOF'
{"subject": "s", "body_text": "b", "delay_days": 366}
EOF
rejects 65 '^template-add: delay_days: must be a whole number$' 'a fractional delay' "$draft" <<'EOF'
{"subject": "s", "body_text": "b", "delay_days": 1.5}
EOF
rejects 65 '^template-add: thread: must be new or reply$' 'a bad thread' "$draft" <<'EOF'
{"subject": "s", "body_text": "b", "thread": "forward"}
EOF
rejects 65 '^template-add: campaign_id: unknown field$' 'the campaign comes from -c, not the input' "$draft" <<'EOF'
{"subject": "s", "body_text": "b", "campaign_id": 1}
EOF
rejects 65 '^template-add: line 3: subject: must not be empty$' 'JSON Lines: errors name their line' \
	"$draft" <<'EOF'
{"subject": "fine", "body_text": "b"}

{"subject": "", "body_text": "b"}
EOF
run template-add -c "$draft" <<'EOF'
{"subject": "", "body_text": "b"}
{"subject": "s", "body_text": "{{"}
{"subject": "s"
EOF
is "$rc $(printf '%s\n' "$err" | wc -l)" '65 3' 'every line with an error is reported, a truncated last one too'

# Steps given.
rejects 65 '^template-add: step: must be at most 5 \(the next step\)$' 'no gap in the steps' "$draft" <<'EOF'
{"step": 7, "subject": "s", "body_text": "b"}
EOF
rejects 65 '^template-add: step: step 2 exists \(--replace replaces it\)$' 'a taken step needs --replace' \
	"$draft" <<'EOF'
{"step": 2, "subject": "s", "body_text": "b"}
EOF
rejects 65 '^template-add: step: required with --replace$' '--replace needs the step' "$draft" --replace <<'EOF'
{"subject": "s", "body_text": "b"}
EOF
rejects 65 '^template-add: thread: step 1 cannot be a reply$' 'step 1 never becomes a reply' \
	"$draft" --replace <<'EOF'
{"step": 1, "subject": "s", "body_text": "b", "thread": "reply"}
EOF
rejects 65 '^template-add: line 2: step: step 5 is given twice$' 'the same step twice in one input' \
	"$draft" <<'EOF'
{"step": 5, "subject": "s", "body_text": "b"}
{"step": 5, "subject": "t", "body_text": "b"}
EOF
id2=$(sql "SELECT id FROM drip.email_campaign_template WHERE campaign_id = $draft AND step = 2")
add "$draft" --replace <<'EOF'
{"step": 2, "subject": "Following up again", "body_text": "New text"}
EOF
is "$(printf '%s' "$out" | jq -c '[.id, .step, .subject, .body_text, .thread, .delay_days]')" \
	"[$id2,2,\"Following up again\",\"New text\",\"reply\",3]" 'an unsent step is replaced in place, defaults applied'
is "$(rows email_campaign_template "campaign_id = $draft")" 4 'replacing adds no step'

echo '{"subject": "s", "body_text": "b"}' >"$T/one.json"
must_fail 66 'a campaign that does not exist' template-add -c 9999 <"$T/one.json"
is "$err" 'template-add: no campaign 9999' 'and says which'
must_fail 64 'no campaign given' template-add </dev/null
must_fail 64 'a campaign id that is not a number' template-add -c abc </dev/null
must_fail 65 'empty input' template-add -c "$draft" </dev/null

# A running campaign: what was sent stays as sent; new steps reach those who finished.
running=$(jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Running", identity_id: $id,
	status: "running", timezone: "Europe/Berlin",
	templates: [{subject: "Hello", body_text: "Hi"}],
	prospects: [{email: "done@example.com"}, {email: "long@example.com"},
		{email: "waiting@example.com"}, {email: "replied@example.com"}]}' |
	DRIP_NOW=2026-03-02T08:00:00Z campaign-create | jq .id)
# done sent step 1 on Monday 10:00 Berlin, long a month ago; replied answered.
sql "UPDATE drip.email_campaign_prospect_step s SET status = 'sent', sent_at = v.at
	FROM drip.email_campaign_prospect p, (VALUES ('done@example.com', timestamptz '2026-03-02T09:00:00Z'),
		('long@example.com', timestamptz '2026-02-02T09:00:00Z'),
		('replied@example.com', timestamptz '2026-03-02T09:00:00Z')) v(email, at)
	WHERE p.id = s.prospect_id AND p.email = v.email AND s.campaign_id = $running;
	UPDATE drip.email_campaign_prospect p SET last_step = 1, last_sent_at = s.sent_at,
		status = CASE p.email WHEN 'replied@example.com' THEN 'replied' ELSE 'finished' END
	FROM drip.email_campaign_prospect_step s WHERE s.prospect_id = p.id AND s.status = 'sent'
	AND p.campaign_id = $running"
rejects 65 '^template-add: step: step 1 has been sent and stays as it was sent$' \
	'a step that was sent cannot be replaced' "$running" --replace <<'EOF'
{"step": 1, "subject": "Changed", "body_text": "Changed"}
EOF

DRIP_NOW=2026-03-03T10:00:00Z add "$running" <<'EOF'
{"subject": "Second", "body_text": "Again", "delay_days": 3}
EOF
is "$rc" 0 'a running campaign gains step 2'
steps() {
	sql "SELECT string_agg(p.email || ':' || p.status || ':' || coalesce(drip.rfc3339(s.due_at), '-'), ' ' ORDER BY p.email)
		FROM drip.email_campaign_prospect p LEFT JOIN drip.email_campaign_prospect_step s
		ON s.prospect_id = p.id AND s.step = $2 WHERE p.campaign_id = $1"
}
is "$(steps "$running" 2)" \
	'done@example.com:active:2026-03-05T09:00:00Z long@example.com:active:2026-03-03T10:00:00Z replied@example.com:replied:- waiting@example.com:active:-' \
	'finished prospects get step 2 from their last send plus 3 days (never in the past), and are active again'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE campaign_id = $running AND step = 1 AND status = 'scheduled'")" 1 \
	'the prospect still waiting for step 1 keeps only that'

DRIP_NOW=2026-03-03T10:00:00Z add "$running" --replace <<'EOF'
{"step": 2, "subject": "Second", "body_text": "Again", "delay_days": 5}
EOF
is "$(steps "$running" 2)" \
	'done@example.com:active:2026-03-09T08:00:00Z long@example.com:active:2026-03-05T10:00:00Z replied@example.com:replied:- waiting@example.com:active:-' \
	'a replaced step with a longer delay moves its scheduled copies by the difference, into the window'
is "$(printf '%s' "$out" | jq -c .)" "$(show_templates "$running" 1)" 'rehydrate after --replace'

sql "UPDATE drip.email_campaign SET status = 'archived' WHERE id = $draft"
rejects 65 "^template-add: campaign $draft is archived$" 'an archived campaign takes no step' "$draft" <<'EOF'
{"subject": "s", "body_text": "b"}
EOF

# A campaign that finished (every prospect sent every step) runs again
# when a new step gives someone something to send.
fin=$(jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Finished", identity_id: $id, status: "running",
	templates: [{subject: "Hello", body_text: "Hi"}], prospects: [{email: "one@example.com"}]}' |
	DRIP_NOW=2026-03-02T08:00:00Z campaign-create | jq .id)
sql "UPDATE drip.email_campaign_prospect_step SET status = 'sent', sent_at = '2026-03-02T09:00:00Z' WHERE campaign_id = $fin;
	UPDATE drip.email_campaign_prospect SET status = 'finished', last_step = 1, last_sent_at = '2026-03-02T09:00:00Z'
	WHERE campaign_id = $fin;
	UPDATE drip.email_campaign SET status = 'finished' WHERE id = $fin"
echo '{"subject": "Second", "body_text": "Again", "delay_days": 1}' >"$T/in.json"
DRIP_NOW=2026-03-03T10:00:00Z add "$fin" <"$T/in.json"
is "$(campaign-show "$fin" | jq -c '[.status, .counts.prospects.active, .counts.steps.scheduled]') $(steps "$fin" 2)" \
	'["running",1,1] one@example.com:active:2026-03-03T10:00:00Z' 'a finished campaign that gains a step runs again'

