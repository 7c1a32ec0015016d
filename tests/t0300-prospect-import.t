#!/bin/sh
# prospect-import (JSON Lines): validation like campaign-create, strict by
# default, --skip-invalid and --rejects, duplicates and --update, the
# customer's suppression list, step 1 in a running campaign, the summary.
. "$(dirname "$0")/lib.sh"
plan 62

db_fresh
sql "INSERT INTO drip.email_identity (customer_id, email) VALUES
	('acme', 'me@acme.test'), ('beta', 'me@beta.test')"
campaign() {	# customer status [timezone] -> id
	sql "INSERT INTO drip.email_campaign (customer_id, identity_id, name, status, timezone)
		SELECT '$1', id, 'c', '$2', '${3:-UTC}' FROM drip.email_identity
		WHERE customer_id = '$1' RETURNING id"
}
step1() {	# campaign id
	sql "INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
		SELECT customer_id, id, 1, 'Hi', 'Hello' FROM drip.email_campaign WHERE id = $1"
}
draft=$(campaign acme draft)
count() { rows email_campaign_prospect "campaign_id = $1${2:+ AND $2}"; }

# Usage and missing objects
must_fail 64 'no --campaign is a usage error' prospect-import
must_fail 64 '--map without --csv is a usage error' prospect-import --campaign "$draft" --map a=email
must_fail 64 'a campaign id that is not a number is a usage error' prospect-import --campaign x
# The usage text is the man page's SYNOPSIS
synopsis=$(mandoc -Tascii "$DRIP_TOP/man/prospect-import.1" | sed 's/.\x08//g' |
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' '  ' | sed 's/^ //;s/ $//')
is "$(prospect-import -h | sed 's/^usage: //' | tr -s ' \n' '  ' | sed 's/ $//')" "$synopsis" 'the usage is the SYNOPSIS of the man page'
run prospect-import -h
is "$rc $(printf '%s' "$out" | head -n 1 | cut -c1-22)" "0 usage: prospect-import" '-h prints the usage on stdout'
must_fail 66 'an unknown campaign is 66' sh -c 'echo "{\"email\":\"a@b.test\"}" | prospect-import --campaign 9999'
like "$err" 'campaign 9999: no such campaign' 'and says so'

# A clean import: every field stored as given, the domain lower-cased
cat >"$T/ok.jsonl" <<'EOF'
{"email": "Ann@Example.COM", "first_name": "Ann", "last_name": "Lee", "company": "Example", "title": "CTO", "timezone": "America/New_York", "fields": {"industry": "fintech"}}
{"email": "bob@example.com"}

{"email": "cy@example.org", "first_name": null, "fields": null}
EOF
run prospect-import --campaign "$draft" <"$T/ok.jsonl"
is "$rc" 0 'a valid import exits 0'
is "$out" "{\"campaign_id\":$draft,\"read\":3,\"inserted\":3,\"updated\":0,\"duplicates\":0,\"invalid\":0,\"suppressed\":0,\"scheduled\":0}" \
	'the summary counts three rows read and inserted'
is "$(sql "SELECT email, first_name, last_name, company, title, timezone, fields::text, status
	FROM drip.email_campaign_prospect WHERE lower(email) = 'ann@example.com'")" \
	'Ann@example.com|Ann|Lee|Example|CTO|America/New_York|{"industry": "fintech"}|active' \
	'fields are stored; the domain is lower-cased, the local part kept'
is "$(sql "SELECT coalesce(first_name, '-') || fields::text FROM drip.email_campaign_prospect WHERE email = 'cy@example.org'")" \
	'-{}' 'null fields are stored as absent'
is "$(count "$draft" "customer_id = 'acme'")" 3 'rows carry the campaign customer'

# Strict by default: one bad row, nothing written, every bad row reported
before=$(table_counts)
cat >"$T/mixed.jsonl" <<'EOF'
{"email": "dee@example.com"}
{"email": "no-at-sign"}
{"email": "eve@example.com", "timezone": "Mars/Olympus"}
{"email": "fay@example.com", "shoe_size": 9}
{"email": "gus@example.com", "fields": {"n": 1}}
{"email": "hal@example.com"
{"first_name": "Ida"}
{"email": "jo@example.com"}
EOF
must_fail 65 'strict: invalid rows exit 65' prospect-import --campaign "$draft" <"$T/mixed.jsonl"
is "$(table_counts)" "$before" 'strict: nothing written'
is "$out" '' 'strict: no summary on stdout'
like "$err" 'line 2: email: no @' 'line 2 reported with its reason'
like "$err" 'line 3: timezone: unknown time zone' 'line 3: unknown time zone'
like "$err" 'line 4: shoe_size: unknown field' 'line 4: unknown field'
like "$err" 'line 5: fields.n: must be a string' 'line 5: a field value that is not a string'
like "$err" 'line 6: invalid JSON' 'line 6: broken JSON'
like "$err" 'line 7: email: required' 'line 7: email missing'
like "$err" '6 invalid rows: nothing imported' 'and a count at the end'

# --skip-invalid writes the rest; --rejects copies the bad lines verbatim
run prospect-import --campaign "$draft" --skip-invalid --rejects "$T/rejects" <"$T/mixed.jsonl"
is "$rc" 0 '--skip-invalid exits 0'
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .invalid, .duplicates]')" '[8,2,6,0]' \
	'--skip-invalid: 8 read, 2 inserted, 6 invalid'
is "$(count "$draft" "email IN ('dee@example.com', 'jo@example.com')")" 2 'the valid rows are written'
sed -n '2,7p' "$T/mixed.jsonl" >"$T/expected-rejects"
ok '--rejects holds exactly the invalid input lines' cmp "$T/rejects" "$T/expected-rejects"
must_fail 65 '--rejects in strict mode: still 65' prospect-import --campaign "$draft" --rejects "$T/rejects2" <"$T/mixed.jsonl"
ok '--rejects is written in strict mode too' cmp "$T/rejects2" "$T/expected-rejects"

# Duplicates: in the input (case-insensitively; the first wins) and in the campaign
printf '%s\n' '{"email":"kim@example.com","first_name":"First"}' \
	'{"email":"KIM@EXAMPLE.COM","first_name":"Second"}' \
	'{"email":"bob@example.com","first_name":"Again"}' >"$T/dups.jsonl"
run prospect-import --campaign "$draft" <"$T/dups.jsonl"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .duplicates]')" '[3,1,2]' \
	'duplicates in the input and against the campaign are counted, not errors'
is "$(sql "SELECT first_name FROM drip.email_campaign_prospect WHERE lower(email) = 'kim@example.com'")" \
	First 'of duplicates in the input the first row is kept'
is "$(sql "SELECT coalesce(first_name, '-') FROM drip.email_campaign_prospect WHERE email = 'bob@example.com'")" \
	- 'a duplicate does not change the stored prospect'

# --update: existing prospects get the row's values; unchanged ones are duplicates
sql "UPDATE drip.email_campaign_prospect SET status = 'replied' WHERE email = 'bob@example.com'"
printf '%s\n' '{"email":"BOB@example.com","first_name":"Bob","fields":{"tier":"a"}}' \
	'{"email":"kim@example.com","first_name":"First"}' \
	'{"email":"new@example.com"}' >"$T/upd.jsonl"
run prospect-import --campaign "$draft" --update <"$T/upd.jsonl"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .updated, .duplicates]')" '[3,1,1,1]' \
	'--update: one updated, one unchanged (a duplicate), one inserted'
is "$(sql "SELECT email, first_name, fields::text, status FROM drip.email_campaign_prospect WHERE lower(email) = 'bob@example.com'")" \
	'bob@example.com|Bob|{"tier": "a"}|replied' '--update changes the fields, not the address or the status'

# A single JSON array is read too
printf '[\n {"email": "arr1@example.net"},\n {"email": "arr2@example.net", "company": "A"}\n]\n' >"$T/array.json"
run prospect-import --campaign "$draft" <"$T/array.json"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted]')" '[2,2]' 'a JSON array of prospects is imported'
printf '[\n {"email": "arr3@example.net"},\n {"email": "broken"}\n]\n' >"$T/array-bad.json"
must_fail 65 'an invalid element of an array is an invalid row' prospect-import --campaign "$draft" <"$T/array-bad.json"
like "$err" 'line 3: email: no @' 'reported with the line the element begins on'

# More than 100 invalid rows: 100 reported, then a count of the rest
awk 'BEGIN { for (i = 1; i <= 150; i++) printf "{\"email\":\"bad%d\"}\n", i }' >"$T/many.jsonl"
must_fail 65 '150 invalid rows exit 65' prospect-import --campaign "$draft" <"$T/many.jsonl"
is "$(printf '%s\n' "$err" | grep -c 'email: no @')" 100 'the first 100 invalid rows are reported'
like "$err" '50 more invalid rows' 'the other 50 are counted'

# Suppression: the campaign customer's entries (address or domain), not another's
sql "INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES
	('acme', 'blocked.test', 'domain'), ('acme', 'stop@example.com', 'address'),
	('beta', 'beta-only.test', 'domain')"
printf '%s\n' '{"email":"x@sub.blocked.test"}' '{"email":"Stop@Example.com"}' \
	'{"email":"y@beta-only.test"}' '{"email":"z@blocked.test.example"}' >"$T/sup.jsonl"
run prospect-import --campaign "$draft" <"$T/sup.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .suppressed]')" '[4,2]' 'suppressed addresses are counted'
is "$(sql "SELECT string_agg(email || '=' || status, ' ' ORDER BY email) FROM drip.email_campaign_prospect
	WHERE email IN ('x@sub.blocked.test', 'Stop@example.com', 'y@beta-only.test', 'z@blocked.test.example')")" \
	'Stop@example.com=suppressed x@sub.blocked.test=suppressed y@beta-only.test=active z@blocked.test.example=active' \
	'a subdomain of a suppressed domain and a suppressed address (any case) are stored suppressed; another customer entry and a mere prefix are not'
is "$(sql "SELECT string_agg(p.email || '=' || e.customer_id || '=' || (e.step_id IS NULL), ' ' ORDER BY p.email)
	FROM drip.email_event e JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id
	WHERE e.type = 'suppressed' AND e.campaign_id = $draft")" \
	'Stop@example.com=acme=true x@sub.blocked.test=acme=true' \
	'each prospect stored suppressed has its event suppressed, with no step'
printf '%s\n' '{"email":"w1@example.com","first_name":"One"}' '{"email":"w2@blocked.test","first_name":"One"}' \
	'{"email":"W1@example.com","first_name":"Two"}' '{"email":"W2@blocked.test","first_name":"Two"}' >"$T/sup-dups.jsonl"
run prospect-import --campaign "$draft" <"$T/sup-dups.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .duplicates, .suppressed]')$(sql "SELECT string_agg(email || '=' || first_name || '=' || status, ' ' ORDER BY email)
	FROM drip.email_campaign_prospect WHERE lower(email) IN ('w1@example.com', 'w2@blocked.test')")" \
	'[2,2,1]w1@example.com=One=active w2@blocked.test=One=suppressed' \
	'a customer with entries: duplicates still keep the first row, suppressed or not'
beta=$(campaign beta draft)
run prospect-import --campaign "$beta" <"$T/sup.jsonl"
is "$(sql "SELECT string_agg(email || '=' || status, ' ' ORDER BY email) FROM drip.email_campaign_prospect WHERE campaign_id = $beta")" \
	'Stop@example.com=active x@sub.blocked.test=active y@beta-only.test=suppressed z@blocked.test.example=active' \
	"customer scope: only beta's own entry applies to beta's campaign"

# A running campaign: new active prospects get step 1, inside their window
running=$(campaign acme running Europe/Berlin)
step1 "$running"
printf '%s\n' '{"email":"r1@example.com"}' '{"email":"r2@example.com","timezone":"America/New_York"}' \
	'{"email":"r3@blocked.test"}' >"$T/run.jsonl"
# Saturday 2026-11-28: the window (mon-fri 09:00-17:00) opens on Monday
DRIP_NOW=2026-11-28T12:00:00Z run prospect-import --campaign "$running" <"$T/run.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .suppressed, .scheduled]')" '[3,1,2]' \
	'running: two active prospects scheduled, the suppressed one not'
is "$(sql "SELECT string_agg(p.email || '@' || drip.rfc3339(s.due_at) || '/' || s.status, ' ' ORDER BY p.email)
	FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
	WHERE s.campaign_id = $running AND s.step = 1")" \
	'r1@example.com@2026-11-30T08:00:00Z/scheduled r2@example.com@2026-11-30T14:00:00Z/scheduled' \
	"step 1 is due at Monday 09:00 in the prospect's zone, else the campaign's"
DRIP_NOW=2026-12-01T10:00:00Z run prospect-import --campaign "$running" <"$T/run.jsonl"
is "$(printf '%s' "$out" | jq -c '[.inserted, .duplicates, .scheduled]')" '[0,3,0]' \
	'a re-run schedules nothing twice'
is "$(rows email_campaign_prospect_step "campaign_id = $running")" 2 'still one step per active prospect'
DRIP_NOW=2026-12-01T10:00:00Z run prospect-import --campaign "$running" <"$T/ok.jsonl"
is "$(sql "SELECT drip.rfc3339(min(due_at)) FROM drip.email_campaign_prospect_step s
	JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id WHERE p.email = 'bob@example.com' AND s.campaign_id = $running")" \
	2026-12-01T10:00:00Z 'inside the window, step 1 is due now'
nostep=$(campaign acme running)
printf '{"email":"n@example.com"}\n' | prospect-import --campaign "$nostep" >/dev/null
is "$(rows email_campaign_prospect_step "campaign_id = $nostep")" 0 'a running campaign without step 1: nothing scheduled'

# An archived campaign takes no prospects
archived=$(campaign acme archived)
must_fail 65 'an archived campaign is refused' sh -c "printf '{\"email\":\"a@b.test\"}\n' | prospect-import --campaign $archived"
is "$(count "$archived")" 0 'and nothing is written to it'

# The summary's counts on a mixed input
cat >"$T/summary.jsonl" <<'EOF'
{"email": "s1@example.com"}
{"email": "S1@example.com"}
{"email": "ann@example.com"}
{"email": "s2@blocked.test"}
{"email": "s3@example.com", "first_name": "Ann"}
{"email": "s4 @example.com"}
{"email": "s5@example.com", "unknown": 1}
EOF
run prospect-import --campaign "$draft" --skip-invalid <"$T/summary.jsonl"
is "$out" "{\"campaign_id\":$draft,\"read\":7,\"inserted\":3,\"updated\":0,\"duplicates\":2,\"invalid\":2,\"suppressed\":1,\"scheduled\":0}" \
	'mixed input: read = inserted + updated + duplicates + invalid'
must_fail 64 '--campaign 0 is a usage error, not a lookup' prospect-import --campaign 0

# -q prints nothing; -v says how long reading and writing took
printf '{"email":"quiet@example.com"}\n' >"$T/q.jsonl"
run prospect-import -q --campaign "$draft" <"$T/q.jsonl"
is "$rc:$out:$(count "$draft" "email = 'quiet@example.com'")" '0::1' '-q: imported, nothing printed'
printf '{"email":"loud@example.com"}\n' >"$T/v.jsonl"
run prospect-import -v --campaign "$draft" <"$T/v.jsonl"
like "$err" '^prospect-import: read 1 rows in [0-9.]+ s, wrote them in [0-9.]+ s$' '-v reports the timing'

# Into an empty campaign rows go straight into the table until one may
# repeat an earlier address; from there on through the staging table.
fresh=$(campaign acme running Europe/Berlin)
step1 "$fresh"
cat >"$T/fresh.jsonl" <<'EOF'
{"email": "f1@example.com", "first_name": "First"}
{"email": "f2@sub.blocked.test"}
{"email": "f3@example.com"}
{"email": "F1@EXAMPLE.COM", "first_name": "Second"}
{"email": "f4@example.com"}
{"email": "stop@example.com"}
{"email": "f2@SUB.blocked.test"}
EOF
DRIP_NOW=2026-11-30T08:30:00Z run prospect-import -v --campaign "$fresh" <"$T/fresh.jsonl"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .duplicates, .suppressed, .scheduled]')" '[7,5,2,2,3]' \
	'empty campaign, a duplicate midway: counts as on the staging path'
is "$(sql "SELECT string_agg(p.email || '=' || coalesce(p.first_name, '-') || '=' || p.status || '=' || (s.id IS NOT NULL), ' ' ORDER BY p.email)
	FROM drip.email_campaign_prospect p LEFT JOIN drip.email_campaign_prospect_step s ON s.prospect_id = p.id
	WHERE p.campaign_id = $fresh")" \
	'f1@example.com=First=active=true f2@sub.blocked.test=-=suppressed=false f3@example.com=-=active=true f4@example.com=-=active=true stop@example.com=-=suppressed=false' \
	'the first row wins; suppressed rows from either path are stored suppressed and not scheduled'
is "$(sql "SELECT string_agg(p.email, ' ' ORDER BY p.email) FROM drip.email_event e
	JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id
	WHERE e.type = 'suppressed' AND e.campaign_id = $fresh")" 'f2@sub.blocked.test stop@example.com' \
	'the rows of either path stored suppressed have their event, once each'

# Direct rows of a customer with entries are spooled in TMPDIR
spooled=$(campaign acme draft)
printf '{"email":"sp@example.com"}\n' >"$T/sp.jsonl"
must_fail 73 'the spool goes to TMPDIR: a missing one cannot be used' \
	env TMPDIR="$T/missing" prospect-import --campaign "$spooled" <"$T/sp.jsonl"
like "$err" "spool in $T/missing: No such file or directory" 'and says where'

# The same prospect written three ways reads the same: plainly (read
# straight from the text), with escapes and spaces (read by json-c), with
# an explicit null
fresh=$(campaign acme draft)
printf '%s\n' '{"email":"w1@example.com","first_name":"Zoë","fields":{"k":"ab","l":"é"}}' \
	'{ "email" : "w2@example.com" ,	"first_name" : "Zo\u00eb" , "fields" : { "k" : "a\u0062" , "l" : "é" } }' \
	'{"email":"w3@example.com","first_name":"Zoë","title":null,"fields":{"k":"ab","l":"é"},"company":""}' |
	prospect-import --campaign "$fresh" >/dev/null
is "$(sql "SELECT string_agg(email || '=' || first_name || '=' || coalesce(title, '-') || '=' || coalesce(company, '-') || '=' || fields::text, ' ' ORDER BY email)
	FROM drip.email_campaign_prospect WHERE campaign_id = $fresh")" \
	'w1@example.com=Zoë=-=-={"k": "ab", "l": "é"} w2@example.com=Zoë=-=-={"k": "ab", "l": "é"} w3@example.com=Zoë=-=-={"k": "ab", "l": "é"}' \
	'escapes, spaces, null and an empty string read alike, whichever way a row is read'
