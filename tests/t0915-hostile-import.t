#!/bin/sh
# Hostile input for the streaming tools, prospect-import (JSON Lines, a JSON
# array, CSV) and suppress: each bad input is refused with exit 65 (64 for
# options), each problem on one line that names it, no crash, no sanitizer
# report, and not one row changed; an error in the middle of a stream
# leaves nothing written unless --skip-invalid said so; 200 MB inputs keep
# memory bounded; SQL text is stored as given; --rejects files are created
# with the mode the umask allows.
. "$(dirname "$0")/lib.sh"
plan 64

db_fresh
sql "INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'me@acme.test')"
cid=$(sql "INSERT INTO drip.email_campaign (customer_id, identity_id, name)
	SELECT 'acme', id, 'c' FROM drip.email_identity RETURNING id")

state() {	# every row of every table, in one query
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
counts=$(table_counts)

# refuses CODE REGEX FILE DESC CMD...: CMD reading FILE exits CODE with
# nothing on stdout; the first line on stderr matches REGEX and every line
# is one diagnostic of the tool (with 64, the usage may follow); no
# sanitizer or valgrind report; no row changed.
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
		grep -Evq '^(prospect-import|suppress): ' "$T/r.err" && _why="$_why; a line that is not a diagnostic"
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
pi() { prospect-import --campaign "$cid" "$@"; }
input() { printf "$@" >"$T/in"; }

# JSON Lines
input '{"email": "a@b.example"}\n{"email": "c@b.example"'
refuses 65 '^prospect-import: line 2: truncated JSON$' "$T/in" 'truncated last line' pi
refuses 65 '^prospect-import: line 2: truncated JSON$' "$T/in" 'truncated last line, even with --skip-invalid' pi --skip-invalid
python3 -c 'print("[" * 10000 + "]" * 10000)' >"$T/in"
refuses 65 '^prospect-import: line 1: invalid JSON: nesting too deep$' "$T/in" 'nested 10,000 deep' pi
input '{"email": "a@b.example", "email": "evil@b.example"}\n'
refuses 65 '^prospect-import: line 1: duplicate key "email"$' "$T/in" 'a repeated key' pi
input '{"email": "a@b.example", "fields": {"k": "1", "\\u006b": "2"}}\n'
refuses 65 '^prospect-import: line 1: duplicate key "\\u006b"$' "$T/in" 'a repeated key in fields, spelt another way' pi
input '{"email": "a@b.example", "first_name": "A\377\376"}\n'
refuses 65 '^prospect-import: line 1: invalid JSON: invalid utf-8 string$' "$T/in" 'invalid UTF-8' pi
input '{"email": "a@b.example", "first_name": "\300\257"}\n'
refuses 65 '^prospect-import: line 1: first_name: invalid UTF-8$' "$T/in" 'overlong UTF-8' pi
input '{"email": "a@b.example", "first_name": "A\0nn"}\n'
refuses 65 '^prospect-import: line 1: invalid JSON: a NUL byte$' "$T/in" 'a NUL byte' pi
input '{"email": "a@b.example", "first_name": "A\\u0000nn"}\n'
refuses 65 '^prospect-import: line 1: first_name: contains a NUL character$' "$T/in" 'an escaped NUL' pi
input '{"email": "a@b.example", "first_name": "A\033[2Jnn"}\n'
refuses 65 '^prospect-import: line 1: unescaped control character U\+001B' "$T/in" 'a raw control character' pi
python3 -c 'print("{\"email\": \"a@b.example\", \"company\": \"" + "x" * (1 << 20) + "\"}")' >"$T/in"
refuses 65 "^prospect-import: line 1: company: longer than 200 bytes$" "$T/in" 'a 1 MB company' pi
python3 -c 'print("{\"email\": \"a@b.example\", \"fields\": {\"note\": \"" + "x" * 4097 + "\"}}")' >"$T/in"
refuses 65 "^prospect-import: line 1: fields\\.note: longer than 4096 bytes$" "$T/in" 'a field of 4097 bytes' pi
input '{"email": "a@b.example", "first_name": 18446744073709551616}\n'
refuses 65 "^prospect-import: line 1: first_name: must be a string$" "$T/in" 'a number beyond 64 bits' pi
input '{"email": "a@b.example", "fields": {"n": -1.5e308}}\n'
refuses 65 "^prospect-import: line 1: fields\\.n: must be a string$" "$T/in" 'a number in fields' pi
python3 -c 'import json; print(json.dumps({"email": "a@b.example", "fields": {"k%d" % i: "v" for i in range(1001)}}))' >"$T/in"
refuses 65 "^prospect-import: line 1: fields: more than 1000 keys$" "$T/in" '1001 keys in fields' pi
input '{"email": "a@b.example", "a\\nb": 1}\n'
refuses 65 "^prospect-import: line 1: a\\\\u000ab: unknown field$" "$T/in" 'a key with a newline, shown escaped' pi
input '[{"email": "a@b.example"}, {"email": "c@b.example"}, {"email": \n'
refuses 65 '^prospect-import: line 1: truncated JSON' "$T/in" 'an array cut short, even with --skip-invalid' pi --skip-invalid
input '[{"email": "a@b.example"} {"email": "c@b.example"}]\n'
refuses 65 "^prospect-import: line 1: expected ',' or ']' in the array$" "$T/in" 'an array without its comma' pi --skip-invalid

# CSV
input 'email,first_name\n"a@b.example,Ann\n'
refuses 65 "^prospect-import: line 2: quoted field not closed at the end of input$" "$T/in" 'CSV: an unterminated quote' pi --csv
input 'email,first_name\na@b.example,Ann,extra\n'
refuses 65 "^prospect-import: line 2: 3 fields, the header has 2$" "$T/in" 'CSV: a ragged row, longer' pi --csv
input 'email,first_name\nok@b.example,O\na@b.example\n'
refuses 65 "^prospect-import: line 3: 1 field, the header has 2$" "$T/in" 'CSV: a ragged row, shorter' pi --csv
python3 -c 'print(",".join(["email"] + ["c%d" % i for i in range(99999)])); print(",".join(["x@y.example"] + ["v"] * 99999))' >"$T/in"
refuses 65 '^prospect-import: header: 100000 columns, more than 1006$' "$T/in" 'CSV: 100,000 columns' pi --csv
python3 -c 'print("email"); print("a@b.example" + "," * 100000)' >"$T/in"
refuses 65 "^prospect-import: line 2: 100001 fields, the header has 1$" "$T/in" 'CSV: a row of 100,001 fields' pi --csv
input 'email,first_name\na@b.example,A\0nn\n'
refuses 65 "^prospect-import: line 2: first_name: contains a NUL character$" "$T/in" 'CSV: a NUL byte' pi --csv
input 'email,first_name\na@b.example,A\377nn\n'
refuses 65 "^prospect-import: line 2: first_name: invalid UTF-8$" "$T/in" 'CSV: invalid UTF-8' pi --csv
input 'email,EMAIL\na@b.example,c@b.example\n'
refuses 65 "^prospect-import: header: more than one column for 'email'$" "$T/in" 'CSV: two email columns' pi --csv
input 'email,fi\377rst\na@b.example,x\n'
refuses 65 '^prospect-import: header: a column name is not UTF-8 text$' "$T/in" 'CSV: a header that is not UTF-8' pi --csv
input 'email,first_name\na@b.example,"x"y\n'
refuses 65 "^prospect-import: line 2: .*quote$" "$T/in" 'CSV: text after a closing quote' pi --csv
input 'email,"a\033[2Jb"\na@b.example,x\n'
run pi --csv <"$T/in"
is "$rc" 0 'CSV: a header with an escape character is a fields key like any other (there is no escaping in CSV)'
is "$(sql "SELECT fields ? (E'a\\033[2Jb') FROM drip.email_campaign_prospect WHERE email = 'a@b.example'")" t \
	'and it is stored as given'
sql "DELETE FROM drip.email_campaign_prospect" >/dev/null
_state=$(state)

# Options out of range
: >"$T/empty"
refuses 64 "^prospect-import: --campaign: '0' is too small" "$T/empty" '--campaign 0' prospect-import --campaign 0
refuses 64 "^prospect-import: --campaign: '-1' is too small" "$T/empty" '--campaign -1' prospect-import --campaign -1
refuses 64 "^prospect-import: --campaign: '9223372036854775808' is too large" "$T/empty" '--campaign 2^63' \
	prospect-import --campaign 9223372036854775808
refuses 64 "^prospect-import: --campaign: '0x1' is invalid" "$T/empty" '--campaign 0x1' prospect-import --campaign 0x1
refuses 64 "^prospect-import: --map: 'email' is not header=field" "$T/empty" '--map without =' pi --csv --map email
refuses 64 "^suppress: --customer" "$T/empty" 'suppress: --customer of 201 bytes' \
	suppress list --customer "$(printf '%0201d' 0)"
refuses 64 "^suppress: --customer" "$T/empty" 'suppress: an empty --customer' suppress list --customer ''
refuses 64 "^suppress: unknown command 'drop'" "$T/empty" 'suppress: an unknown command' suppress drop --customer acme
refuses 64 "^suppress: --reason" "$T/empty" 'suppress: --reason of 201 bytes' \
	suppress add --customer acme --reason "$(printf '%0201d' 0)" a@b.example

# An error in the middle of a stream: nothing written, unless --skip-invalid
python3 -c '
for i in range(1, 1001):
    print("{\"email\": \"p%d@b.example\"}" % i if i != 500 else "{\"email\": \"p500@b.example\", \"email\": \"x@y.example\"}")' >"$T/mid"
refuses 65 "^prospect-import: line 500: duplicate key \"email\"$" "$T/mid" 'a bad line 500 of 1000: nothing written' pi
(umask 022 && pi --skip-invalid --rejects "$T/rej022" <"$T/mid" >"$T/out" 2>"$T/err")
is "$(jq -c '[.read, .inserted, .invalid]' "$T/out")" '[1000,999,1]' '--skip-invalid: the other 999 are written'
is "$(rows email_campaign_prospect)" 999 'and they are in the table'
ok '--rejects holds line 500 as it was read' sh -c "sed -n 500p '$T/mid' | cmp - '$T/rej022'"
is "$(stat -c %a "$T/rej022")" 644 '--rejects with umask 022 is 0644 (it holds no secret)'
(umask 077 && pi --skip-invalid --rejects "$T/rej077" <"$T/mid" >/dev/null 2>&1)
is "$(stat -c %a "$T/rej077")" 600 'and with umask 077, 0600: the umask decides'
(umask 000 && pi --skip-invalid --rejects "$T/rej000" <"$T/mid" >/dev/null 2>&1)
like "$(stat -c %a "$T/rej000")" '^6[46][46]$' 'with umask 000, never executable'
sql "DELETE FROM drip.email_campaign_prospect" >/dev/null
python3 -c '
for i in range(1, 1001):
    print("p%d@b.example" % i if i != 700 else "p700@b.example,\"x")' | sed '1i email' >"$T/mid.csv"
refuses 65 "^prospect-import: line 701: .*$" "$T/mid.csv" 'CSV: a bad record 700 of 1000: nothing written' pi --csv
_state=$(state)

# 200 MB offered: reading stops, or scans without keeping, within bounded memory.
asan=
grep -q __asan_init "$DRIP_BUILD/bin/prospect-import" && asan=1
mb200=$((200 * 1024 * 1024))
huge_line() { printf '{"email": "a@b.example", "first_name": "'; head -c "$mb200" /dev/zero | tr '\0' x; printf '"}\n'; }
huge_record() { printf 'email,first_name\nq@b.example,Q\na@b.example,'; head -c "$mb200" /dev/zero | tr '\0' x; printf '\nz@b.example,Z\n'; }
huge_suppress() { head -c "$mb200" /dev/zero | tr '\0' x; printf '\n'; }
big() {	# shape limit-mb regex desc cmd...
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
	head -n 1 "$T/r.err" | grep -Eq -- "$_re" || _why="$_why; message does not match $_re"
	_now=$(state)
	[ "$_now" = "$_state" ] || _why="$_why; rows changed"
	_state=$_now
	[ -n "$_rss" ] && [ "$_rss" -le $((_mb * 1024)) ] || _why="$_why; peak RSS ${_rss:-?} kB over $_mb MB"
	if [ -z "$_why" ]; then
		diag "$_d: peak RSS $((_rss / 1024)) MB (bound $_mb MB)"
		_tap_result 0 "$_d"
	else
		_tap_result 1 "$_d"
		diag "command: $*" "${_why#; }" "stderr: $(head -c 600 "$T/r.err")"
	fi
}
big huge_line 96 '^prospect-import: line 1: value larger than 16 MiB, the limit$' \
	'a 200 MB JSON line stops at 16 MiB' prospect-import --campaign "$cid" --skip-invalid
big huge_record 64 '^prospect-import: line 3: record longer than 1048576 bytes$' \
	'a 200 MB CSV record is scanned, not kept' prospect-import --campaign "$cid" --csv
big huge_suppress 32 '^suppress: line 1: longer than 4096 bytes$' \
	'suppress: a 200 MB line is scanned, not kept' suppress add --customer acme

# suppress
input 'a@b.example\0x\n'
refuses 65 '^suppress: line 1: a NUL byte$' "$T/in" 'suppress: a NUL byte in a line' suppress add --customer acme
input '{"value": "a@b.example", "value": "c@d.example"}\n'
refuses 65 '^suppress: line 1: duplicate key "value"$' "$T/in" 'suppress: a repeated key' suppress add --customer acme
input '{"value": "a@b.example", "reason": "x\ty"}\n'
refuses 65 '^suppress: line 1: unescaped control character U\+0009' "$T/in" 'suppress: a raw tab' suppress add --customer acme
input '{"value": "a@b.example"\n'
refuses 65 '^suppress: line 1: invalid JSON$' "$T/in" 'suppress: truncated JSON' suppress add --customer acme
input '{"value": "a@b.example", "reason": "\377"}\n'
refuses 65 '^suppress: line 1: invalid JSON$' "$T/in" 'suppress: invalid UTF-8' suppress add --customer acme
input 'caf\303\251@b.example\n'
refuses 65 '^suppress: line 1: ' "$T/in" 'suppress: a non-ASCII address' suppress add --customer acme
input '{"value": "a@b.example", "kind": "domain"}\n'
refuses 65 '^suppress: line 1: kind: unknown field$' "$T/in" 'suppress: an unknown field' suppress add --customer acme
python3 -c 'print("ok@b.example"); print("{\"value\": \"x@b.example\", \"reason\": \"" + "r" * 4000 + "\"}")' >"$T/in"
refuses 65 '^suppress: line 2: reason: longer than' "$T/in" 'suppress: a reason too long' suppress add --customer acme
is "$(table_counts)" "$counts" 'every table has the rows it had before the hostile inputs'

# SQL text in every field: stored as given, never run
sqlt="x'); DROP TABLE drip.suppression_entry; -- \$1 \\' \"q\" NULL {a,\"b\"} %s ' OR '1'='1; COMMIT;"
export SQLT="$sqlt"
run sh -c 'jq -cn --arg s "$SQLT" "{email: \"sql@b.example\", first_name: \$s, last_name: \$s, company: \$s,
	title: \$s, fields: {(\$s): \$s}}" | prospect-import --campaign '"$cid"
is "$rc $(sql "SELECT count(*) FROM drip.email_campaign_prospect WHERE first_name = :'s' AND last_name = :'s'
	AND company = :'s' AND title = :'s' AND fields = jsonb_build_object(:'s'::text, :'s'::text)" -v s="$sqlt")" '0 1' \
	'prospect-import (JSON) stores SQL text as given'
run sh -c 'jq -rn --arg s "$SQLT" "[\"email\", \"first_name\", \$s], [\"sq2@b.example\", \$s, \$s] | @csv" |
	prospect-import --csv --campaign '"$cid"
is "$rc $(sql "SELECT count(*) FROM drip.email_campaign_prospect WHERE email = 'sq2@b.example' AND first_name = :'s'
	AND fields = jsonb_build_object(:'s'::text, :'s'::text)" -v s="$sqlt")" '0 1' \
	'prospect-import (CSV) stores SQL text as given, in values and column names'
run sh -c 'jq -cn --arg s "$SQLT" "{value: \"sql@b.example\", reason: \$s}" | suppress add --customer acme'
is "$rc $(sql "SELECT count(*) FROM drip.suppression_entry WHERE reason = :'s'" -v s="$sqlt")" '0 1' \
	'suppress stores SQL text as given'
run suppress add --customer "acme$sqlt" --reason "$sqlt" --source "$sqlt" evil@b.example
is "$rc $(sql "SELECT count(*) FROM drip.suppression_entry WHERE customer_id = :'c' AND reason = :'s' AND source = :'s'" \
	-v c="acme$sqlt" -v s="$sqlt")" '0 1' 'and in its options'
is "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'drip' AND tablename = 'suppression_entry'")" 1 \
	'no statement in them ran'
