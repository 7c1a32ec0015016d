#!/bin/sh
# Hostile JSON for every tool that reads it (campaign-create, campaign-update,
# template-add, outlook-auth --update): empty and truncated input, nesting
# 10,000 deep, 200 MB of input in three shapes (memory stays bounded: peak
# RSS measured), invalid UTF-8, NUL bytes, raw control characters, a 1 MB
# string, numbers beyond 64 bits, negative ids, floats for integers,
# repeated keys, and option values out of range. Each is refused with exit
# 65 (64 for options) and one line that names the problem, no crash, no
# sanitizer report, and not one row changed. SQL text in every string field
# is stored as it was given and never run. An error in the middle of JSON
# Lines leaves nothing of them written.
. "$(dirname "$0")/lib.sh"
plan 169

db_fresh
acme=$(sql "INSERT INTO drip.email_identity (customer_id, email, status)
	VALUES ('acme', 'sales@acme.example', 'connected') RETURNING id")
cid=$(jq -cn --argjson id "$acme" '{customer_id: "acme", name: "Base", identity_id: $id,
	templates: [{subject: "Hello", body_text: "Hi"}], prospects: [{email: "ann@example.com"}]}' |
	campaign-create | jq .id)

# Every row of every table, to prove that none changed: one query (the
# machine is shared and slow to start processes), with table_counts()
# around each part of the corpus as well.
state() {
	sql "SELECT md5(coalesce(string_agg(r, '|' ORDER BY r), '')) FROM (
		SELECT t::text r FROM drip.email_identity t UNION ALL
		SELECT t::text FROM drip.email_campaign t UNION ALL
		SELECT t::text FROM drip.email_campaign_template t UNION ALL
		SELECT t::text FROM drip.email_campaign_prospect t UNION ALL
		SELECT t::text FROM drip.email_campaign_prospect_step t UNION ALL
		SELECT t::text FROM drip.email_event t UNION ALL
		SELECT t::text FROM drip.email_message_metadata t UNION ALL
		SELECT t::text FROM drip.suppression_entry t) a"
}
_state=$(state)

tool_cmd() {	# short name: the command line
	case $1 in
	cc)	echo "campaign-create" ;;
	cu)	echo "campaign-update $cid" ;;
	ta)	echo "template-add -c $cid" ;;
	oa)	echo "outlook-auth --update $acme" ;;
	esac
}

# refuses CODE REGEX FILE DESC CMD...: CMD reading FILE exits CODE, writes
# nothing on stdout, and says one line on stderr that matches REGEX (with
# CODE 64, the usage may follow it), with no sanitizer or valgrind report;
# no row of any table changed.
refuses() {
	_code=$1 _re=$2 _f=$3 _d=$4; shift 4
	"$@" <"$_f" >"$T/r.out" 2>"$T/r.err"
	_rc=$?
	_why=
	[ "$_rc" = "$_code" ] || _why="$_why; exit $_rc, expected $_code"
	[ -s "$T/r.out" ] && _why="$_why; wrote to standard output"
	if [ "$_code" = 64 ]; then
		sed 1d "$T/r.err" | grep -Evq '^(usage: |       )' && _why="$_why; more than the usage after the message"
	else
		[ "$(wc -l <"$T/r.err")" -eq 1 ] || _why="$_why; $(wc -l <"$T/r.err") lines on stderr"
	fi
	head -n 1 "$T/r.err" | grep -Eq -- "$_re" || _why="$_why; the message does not match $_re"
	grep -Eq 'Sanitizer|runtime error|^==[0-9]+==' "$T/r.err" && _why="$_why; a sanitizer or valgrind report"
	_now=$(state)
	[ "$_now" = "$_state" ] || _why="$_why; rows changed"
	_state=$_now
	if [ -z "$_why" ]; then
		_tap_result 0 "$_d"
	else
		_tap_result 1 "$_d"
		diag "command: $*" "${_why#; }" "stderr: $(head -c 600 "$T/r.err")"
	fi
}

# The corpus: for each tool, a file per case and the message expected.
mkdir -p "$T/in"
python3 - "$T/in" "$acme" <<'PY'
import json, os, sys
out, iid = sys.argv[1], int(sys.argv[2])
# Each tool: its base object, a string field and an integer field in it.
tools = {
    'cc': ({'customer_id': 'acme', 'name': 'N', 'identity_id': iid}, 'name', 'identity_id'),
    'cu': ({'name': 'N'}, 'name', 'daily_cap'),
    'ta': ({'subject': 'S', 'body_text': 'B'}, 'subject', 'delay_days'),
    'oa': ({'display_name': 'D'}, 'display_name', 'rate_per_minute'),
}
def obj(base, key, raw):
    """base as JSON text with key set to the raw JSON text given"""
    d = dict(base)
    d[key] = '@@'
    return json.dumps(d).replace('"@@"', raw)
manifest = []
def case(tool, name, data, regex):
    if isinstance(data, str):
        data = data.encode('utf-8', 'surrogateescape')
    with open(os.path.join(out, tool + '.' + name), 'wb') as f:
        f.write(data)
    manifest.append('%s\t%s\t%s' % (tool, name, regex))
for t, (base, s, i) in tools.items():
    one = 'expected one JSON object' if t != 'ta' else 'expected a template object'
    text = json.dumps(base)
    case(t, 'empty', '', '^[a-z-]+: input: empty, %s$' % one)
    case(t, 'blank', ' \n\t\r\n\n', '^[a-z-]+: input: empty, %s$' % one)
    case(t, 'truncated', text[:len(text) // 2], '^[a-z-]+: line 1: truncated JSON$')
    case(t, 'truncated-lines', '\n\n' + text[:-1], '^[a-z-]+: line 3: truncated JSON$')
    case(t, 'garbage', 'hello, world\n', '^[a-z-]+: line 1: invalid JSON: unexpected character$')
    case(t, 'nested-arrays', '[' * 10000 + ']' * 10000, '^[a-z-]+: line 1: invalid JSON: nesting too deep$')
    case(t, 'nested-objects', '{"a":' * 10000 + '1' + '}' * 10000,
         '^[a-z-]+: line 1: invalid JSON: nesting too deep$')
    case(t, 'nested-in-field', obj(base, s, '[' * 5000 + ']' * 5000),
         '^[a-z-]+: line 1: invalid JSON: nesting too deep$')
    case(t, 'not-an-object', '[1, 2]', '^[a-z-]+: input: (expected a JSON object|must be an object)$')
    case(t, 'invalid-utf8', obj(base, s, '"caf\udcc3\udca9 \udcff\udcfe"'),
         '^[a-z-]+: line 1: invalid JSON: invalid utf-8 string$')
    case(t, 'overlong-utf8', obj(base, s, '"\udcc0\udcaf"'), '^[a-z-]+: %s: invalid UTF-8$' % s)
    case(t, 'nul-byte', obj(base, s, '"a\0b"'), '^[a-z-]+: line 1: invalid JSON: a NUL byte$')
    case(t, 'nul-escaped', obj(base, s, '"a\\u0000b"'), '^[a-z-]+: %s: contains a NUL character$' % s)
    case(t, 'raw-newline', obj(base, s, '"a\nb"'),
         '^[a-z-]+: line 1: unescaped control character U\\+000A in a string: escape it as \\\\u000a$')
    case(t, 'raw-escape', obj(base, s, '"\x1b[2J\x1b[31mred"'),
         '^[a-z-]+: line 1: unescaped control character U\\+001B in a string')
    case(t, 'one-megabyte', obj(base, s, '"' + 'x' * (1 << 20) + '"'), '^[a-z-]+: %s: longer than [0-9]+ bytes$' % s)
    for n, v in (('2^64', '18446744073709551616'), ('2^63', '9223372036854775808'),
                 ('uint64-max', '18446744073709551615'), ('huge', '9' * 400)):
        case(t, 'int-' + n, obj(base, i, v), '^[a-z-]+: %s: (number too large|must be a whole number)$' % i)
    case(t, 'int-negative', obj(base, i, '-1'), '^[a-z-]+: %s: must be from [0-9]+ to [0-9]+$' % i)
    case(t, 'int-min', obj(base, i, '-9223372036854775809'), '^[a-z-]+: %s: must be from [0-9]+ to [0-9]+$' % i)
    for n, v in (('fraction', '1.5'), ('point-zero', '3.0'), ('exponent', '1e3'), ('string', '"7"')):
        case(t, 'float-' + n, obj(base, i, v), '^[a-z-]+: %s: must be a whole number$' % i)
    case(t, 'duplicate-key', text[:-1] + ', "%s": "again"}' % s, '^[a-z-]+: line 1: duplicate key "%s"$' % s)
    case(t, 'duplicate-escaped', text[:-1] + ', "\\u%04x%s": "again"}' % (ord(s[0]), s[1:]),
         '^[a-z-]+: line 1: duplicate key "\\\\u%04x%s"$' % (ord(s[0]), s[1:]))
    case(t, 'duplicate-line-3', '{\n"%s": "a",\n"%s": "b"}' % (s, s), '^[a-z-]+: line 3: duplicate key "%s"$' % s)
    case(t, 'nul-in-key', text[:-1] + ', "%s\\u0000x": "y"}' % s, '^[a-z-]+: line 1: NUL character in key "%s\\\\u0000x"$' % s)
    case(t, 'escaped-newline-key', text[:-1] + ', "a\\nb": 1}', '^[a-z-]+: a\\\\u000ab: unknown field$')
    if t != 'ta':
        case(t, 'two-objects', text + '\n' + text, '^[a-z-]+: line 2: expected one JSON object, found more$')
# Nested repeats where each tool has objects inside.
case('cc', 'duplicate-nested', '{"customer_id": "acme", "name": "N", "identity_id": %d, "templates": [\n'
     '{"subject": "a", "body_text": "b", "subject": "c"}]}' % iid, '^[a-z-]+: line 2: duplicate key "subject"$')
case('cc', 'duplicate-fields', '{"customer_id": "acme", "name": "N", "identity_id": %d, "prospects": [\n'
     '{"email": "a@b.example", "fields": {"k": "1", "k": "2"}}]}' % iid, '^[a-z-]+: line 2: duplicate key "k"$')
case('cc', 'one-megabyte-subject', '{"customer_id": "acme", "name": "N", "identity_id": %d, "templates": '
     '[{"subject": "%s", "body_text": "b"}]}' % (iid, 'x' * (1 << 20)),
     '^[a-z-]+: templates\\[0\\]\\.subject: longer than 998 bytes$')
case('cu', 'duplicate-window', '{"send_window": {"start": "08:00", "start": "23:00"}}',
     '^[a-z-]+: line 1: duplicate key "start"$')
case('cc', 'negative-identity', '{"customer_id": "acme", "name": "N", "identity_id": -%d}' % iid,
     '^[a-z-]+: identity_id: must be from 1 to 9223372036854775807$')
case('cc', 'fields-key-overflow', '{"customer_id": "acme", "name": "N", "identity_id": %d, "prospects": '
     '[{"email": "a@b.example", "fields": {"k": 18446744073709551616}}]}' % iid,
     '^[a-z-]+: prospects\\[0\\]\\.fields\\.k: must be a string$')
with open(os.path.join(out, 'manifest'), 'w') as f:
    f.write('\n'.join(manifest) + '\n')
PY

counts=$(table_counts)
while IFS="$(printf '\t')" read -r tool name re; do
	# shellcheck disable=SC2046
	refuses 65 "$re" "$T/in/$tool.$name" "$(tool_cmd "$tool" | cut -d' ' -f1): $name" $(tool_cmd "$tool")
done <"$T/in/manifest"
is "$(table_counts)" "$counts" 'after the whole corpus, every table has the rows it had'

# Options out of range: 64, the option named, nothing read or written.
: >"$T/empty"
refuses 64 "^campaign-update: campaign id: '0' is too small" "$T/empty" 'campaign-update 0' campaign-update 0
refuses 64 "^campaign-update: campaign id: '-1' is too small" "$T/empty" 'campaign-update -- -1' campaign-update -- -1
refuses 64 "^campaign-update: campaign id: '99999999999999999999' is too large" "$T/empty" \
	'campaign-update 99999999999999999999' campaign-update 99999999999999999999
refuses 64 "^campaign-update: campaign id: '1e3' is invalid" "$T/empty" 'campaign-update 1e3' campaign-update 1e3
refuses 64 "^campaign-update: campaign id: '' is invalid" "$T/empty" "campaign-update ''" campaign-update ''
refuses 64 "^template-add: -c: '0' is too small" "$T/empty" 'template-add -c 0' template-add -c 0
refuses 64 "^template-add: -c: '9223372036854775808' is too large" "$T/empty" \
	'template-add -c 2^63' template-add -c 9223372036854775808
refuses 64 "^template-add: -c: '1.5' is invalid" "$T/empty" 'template-add -c 1.5' template-add -c 1.5
refuses 64 "^template-add: option '-c' needs a value" "$T/empty" 'template-add -c' template-add -c
refuses 64 "^outlook-auth: --update: '-5' is too small" "$T/empty" 'outlook-auth --update -5' outlook-auth --update -5
refuses 64 "^outlook-auth: --update: '0x10' is invalid" "$T/empty" 'outlook-auth --update 0x10' outlook-auth --update 0x10
refuses 64 "^outlook-auth: --customer: must be 1 to 200 characters" "$T/empty" 'outlook-auth --customer of 201 bytes' \
	outlook-auth --customer "$(printf '%0201d' 0)" --update 1
refuses 64 "^campaign-create: unknown option '--db-url'" "$T/empty" 'campaign-create --db-url' campaign-create --db-url x

# 200 MB offered in three shapes: reading stops at the limit (exit 65, one
# line), and peak memory stays under a bound (larger under ASan, which
# keeps freed memory in quarantine; skipped under valgrind).
asan=
grep -q __asan_init "$DRIP_BUILD/bin/campaign-create" && asan=1
mb200=$((200 * 1024 * 1024))
huge_string() { printf '{"name": "'; head -c "$mb200" /dev/zero | tr '\0' x; printf '"}\n'; }
empty_objects() { printf '{"name": "N", "x": ['; yes '{},' | head -c "$mb200" | tr -d '\n'; printf '{}]}\n'; }
many_lines() { yes "$1" | head -c "$mb200"; }
# big SHAPE LIMIT-MB REGEX DESC CMD...: at most LIMIT-MB of peak RSS
big() {
	_shape=$1 _mb=$2 _re=$3 _d=$4; shift 4
	[ -n "$asan" ] && _mb=$((_mb * 3))
	if [ -n "${VALGRIND:-}" ]; then
		_tap_result 0 "$_d # SKIP minutes under valgrind, and its memory is not the tool's"
		return
	fi
	$_shape 2>/dev/null | /usr/bin/time -f 'rss %M' -o "$T/time" "$@" >"$T/r.out" 2>"$T/r.err"
	_rc=$?
	_rss=$(sed -n 's/^rss //p' "$T/time")
	_why=
	[ "$_rc" = 65 ] || _why="$_why; exit $_rc"
	[ "$(wc -l <"$T/r.err")" -eq 1 ] || _why="$_why; $(wc -l <"$T/r.err") lines on stderr"
	grep -Eq -- "$_re" "$T/r.err" || _why="$_why; message does not match $_re"
	_now=$(state)
	[ "$_now" = "$_state" ] || _why="$_why; rows changed"
	_state=$_now
	if [ -n "$_rss" ] && [ "$_rss" -le $((_mb * 1024)) ]; then
		diag "$_d: peak RSS $((_rss / 1024)) MB (bound $_mb MB)"
		_tap_result 0 "$_d"
	else
		_why="$_why; peak RSS ${_rss:-?} kB over $_mb MB"
	fi
	if [ -n "$_why" ]; then
		_tap_result 1 "$_d"
		diag "command: $*" "${_why#; }" "stderr: $(head -c 600 "$T/r.err")"
	fi
}
toolarge='line 1: value larger than [0-9]+ MiB, the limit$'
toomany='line 1: value has too many objects, arrays or elements: it would take more than [0-9]+ MiB of memory$'
big huge_string 96 "^campaign-update: $toolarge" 'campaign-update: a 200 MB string stops at 16 MiB' campaign-update "$cid"
big huge_string 160 "^campaign-create: $toolarge" 'campaign-create: a 200 MB string stops at 32 MiB' campaign-create
big huge_string 96 "^template-add: $toolarge" 'template-add: a 200 MB string stops at 16 MiB' template-add -c "$cid"
big huge_string 96 "^outlook-auth: $toolarge" 'outlook-auth --update: a 200 MB string stops at 16 MiB' \
	outlook-auth --update "$acme"
big empty_objects 320 "^campaign-update: $toomany" 'campaign-update: 200 MB of empty objects stop at 256 MiB of memory' \
	campaign-update "$cid"
big empty_objects 600 "^campaign-create: $toomany" 'campaign-create: 200 MB of empty objects stop at 512 MiB of memory' \
	campaign-create
big "many_lines {\"name\":\"N\"}" 64 '^campaign-update: line 2: expected one JSON object, found more$' \
	'campaign-update: 200 MB of JSON Lines: refused at the second' campaign-update "$cid"
big "many_lines {\"subject\":\"S\",\"body_text\":\"B\"}" 64 '^template-add: line 101: a campaign has at most 100 steps$' \
	'template-add: 200 MB of JSON Lines: refused at the 101st' template-add -c "$cid"

is "$(table_counts)" "$counts" 'after options and 200 MB inputs too'

# SQL in every string field: stored as given, never run.
sqlt="Robert'); DROP TABLE drip.email_campaign; -- \$1 \\' \"q\" NULL {a,\"b\"} %s%n ' OR '1'='1; COMMIT;"
jq -n --argjson id "$acme" --arg s "$sqlt" '{customer_id: ("acme" + $s), name: ("n" + $s), identity_id: $id,
	key: ("k" + $s), templates: [{subject: ("s" + $s), body_text: ("t" + $s), body_html: ("h" + $s)}],
	prospects: [{email: "o'"'"'reilly--@example.com", first_name: ("f" + $s), last_name: ("l" + $s),
		company: ("c" + $s), title: ("t" + $s), fields: {("k" + $s): ("v" + $s), "NULL": "NULL"}}]}' >"$T/sql.json"
sql "INSERT INTO drip.email_identity (customer_id, email) VALUES (:'c', 'x@acme.example')" -v c="acme$sqlt" >/dev/null
sid=$(sql "SELECT id FROM drip.email_identity WHERE customer_id = :'c'" -v c="acme$sqlt")
jq --argjson id "$sid" '.identity_id = $id' "$T/sql.json" >"$T/sql2.json"
run campaign-create <"$T/sql2.json"
is "$rc" 0 'campaign-create takes SQL text in every string field'
sqlid=$(printf '%s' "$out" | jq .id)
is "$(printf '%s' "$out" | jq -c '[.customer_id, .name, .key, .templates[0].subject, .templates[0].body_text, .templates[0].body_html]')" \
	"$(jq -c '[.customer_id, .name, .key, .templates[0].subject, .templates[0].body_text, .templates[0].body_html]' "$T/sql2.json")" \
	'and prints it back as given'
is "$(sql "SELECT json_build_object('first_name', first_name, 'last_name', last_name, 'company', company,
	'title', title, 'fields', fields) FROM drip.email_campaign_prospect WHERE campaign_id = $sqlid" | jq -cS .)" \
	"$(jq -cS '.prospects[0] | del(.email)' "$T/sql2.json")" 'the prospect row holds every field as given'
is "$(sql "SELECT email FROM drip.email_campaign_prospect WHERE campaign_id = $sqlid")" "o'reilly--@example.com" \
	'an address with a quote and dashes is stored as given'
is "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'drip' AND tablename = 'email_campaign'")" 1 \
	'and the table it names is still there'
export SQLT="$sqlt"
run sh -c 'jq -n --arg s "$SQLT" "{name: (\"u\" + \$s)}" | campaign-update '"$sqlid"
is "$rc $(printf '%s' "$out" | jq -r .name)" "0 u$sqlt" 'campaign-update stores SQL text as given'
run sh -c 'jq -n --arg s "$SQLT" "{subject: (\"a\" + \$s), body_text: \$s, body_html: \$s}" | template-add -c '"$sqlid"
is "$rc $(sql "SELECT subject = :'s' AND body_text = :'b' FROM drip.email_campaign_template WHERE campaign_id = $sqlid AND step = 2" \
	-v s="a$sqlt" -v b="$sqlt")" '0 t' 'template-add stores SQL text as given'
run sh -c 'jq -n --arg s "$SQLT" "{display_name: (\"d\" + \$s)}" | outlook-auth --update '"$sid"
is "$rc $(printf '%s' "$out" | jq -r .display_name)" "0 d$sqlt" 'outlook-auth --update stores SQL text as given'
is "$(sql "SELECT count(*) FROM drip.email_campaign")" 2 'no statement in them ran: every campaign is still there'

# An error in the middle of JSON Lines: nothing of them written.
_state=$(state)
lines() {	# N BAD-AT BAD-LINE: N template lines, line BAD-AT replaced
	_i=1
	while [ $_i -le "$1" ]; do
		if [ $_i = "$2" ]; then printf '%s\n' "$3"; else printf '{"subject": "L%d", "body_text": "b"}\n' $_i; fi
		_i=$((_i + 1))
	done
}
lines 6 4 '{"subject": "x", "subject": "y", "body_text": "b"}' >"$T/mid"
refuses 65 '^template-add: line 4: duplicate key "subject"$' "$T/mid" 'template-add: a repeated key on line 4 of 6' \
	template-add -c "$cid"
lines 60 50 '{"subject": "x", "body_text": "b"' >"$T/mid"
refuses 65 '^template-add: line 50: (truncated|invalid) JSON' "$T/mid" 'template-add: a cut line 50 of 60' \
	template-add -c "$cid"
lines 5 5 '{"subject": "x", "body_text": "' >"$T/mid"
refuses 65 '^template-add: line 5: truncated JSON$' "$T/mid" 'template-add: the last line cut short' template-add -c "$cid"
lines 8 3 '{"subject": "x", "body_text": "b", "delay_days": 1e999}' >"$T/mid"
refuses 65 '^template-add: line 3: delay_days: must be a whole number$' "$T/mid" 'template-add: a bad number on line 3 of 8' \
	template-add -c "$cid"
