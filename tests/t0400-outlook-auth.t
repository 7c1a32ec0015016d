#!/bin/bash
# outlook-auth against the mock: every device-code outcome, the identity
# stored and printed, tokens sealed at rest (the row holds no token text and
# does not open in another row), key-file refusals, --check with refresh and
# rotation, 401 -> refresh -> retry, 429/503 with Retry-After, invalid_grant
# -> needs_reauth, two concurrent refreshes that lose nothing, an unreachable
# service (69), --list, --update, --revoke; and no token in any output.
. "$(dirname "$0")/lib.sh"
. "$DRIP_TOP/tests/mock-graph/mock.sh"
plan 86

db_fresh
mock_start --interval 0 || { echo "Bail out! mock-graph did not start"; exit 1; }
at_exit mock_stop
export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000d41b
export DRIP_KEY_FILE=$T/drip.key
head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
chmod 600 "$DRIP_KEY_FILE"
ME=sales@acme.example
mock_ctl POST /_mock/users "{\"email\":\"$ME\",\"display_name\":\"Sales Team\"}" >/dev/null

# Every output of outlook-auth is kept, to look for tokens at the end.
: >"$T/all-output"
keep() { printf '%s\n%s\n' "$out" "$err" >>"$T/all-output"; }
oa() { run outlook-auth "$@"; keep; }

log_count() {	# method path-regex [status]: requests the mock saw
	mock_ctl GET /_mock/log | jq --arg m "$1" --arg p "$2" --arg s "${3:-}" \
		'[.[] | select(.method == $m and (.path | test($p)) and
		  ($s == "" or (.status | tostring) == $s))] | length'
}
tokens=/oauth2/v2.0/token
faults() { mock_ctl POST /_mock/faults "$1" >/dev/null; }

# connect CUSTOMER EMAIL [ACTION]: run the device flow in the background,
# read its user code from the sign-in message, then approve that code for
# EMAIL (or run ACTION instead, with $code set).
connect() {
	: >"$T/c.err"
	outlook-auth -v --customer "$1" >"$T/c.out" 2>"$T/c.err" &
	_pid=$!
	code=
	for _i in $(seq 100); do
		code=$(sed -n 's/.*enter the code \([A-Z0-9]*\) to authenticate.*/\1/p' "$T/c.err")
		[ -n "$code" ] && break
		sleep 0.1
	done
	if [ -n "${3:-}" ]; then
		eval "$3"
	else
		mock_ctl POST /_mock/devicecode/approve \
			"{\"user_code\":\"$code\",\"email\":\"$2\"}" >/dev/null
	fi
	wait $_pid
	rc=$?
	out=$(cat "$T/c.out")
	err=$(cat "$T/c.err")
	keep
}

# --- usage and configuration: nothing asked of Microsoft, nothing written
ok '--help prints the usage on stdout' sh -c 'outlook-auth --help | grep -q "^usage: outlook-auth"'
must_fail 64 'connecting needs --customer' outlook-auth
must_fail 64 '--check needs a number' outlook-auth --check abc
must_fail 64 'one mode at a time' outlook-auth --check 1 --list --customer acme
must_fail 64 '--list needs --customer' outlook-auth --list
must_fail 64 'an empty customer is refused' outlook-auth --customer ''
before=$(log_count POST devicecode)
DRIP_CLIENT_ID= oa --customer acme
is "$rc" 64 'no DRIP_CLIENT_ID: usage error (64)'
like "$err" '^outlook-auth: DRIP_CLIENT_ID is not set' '  naming DRIP_CLIENT_ID'
DRIP_KEY_FILE=$T/nokey oa --customer acme
is "$rc" 64 'a missing key file is refused (64)'
like "$err" "key file $T/nokey: no such file; make one: head -c 32 /dev/urandom" \
	'  saying how to make one'
cp "$DRIP_KEY_FILE" "$T/open.key"; chmod 644 "$T/open.key"
DRIP_KEY_FILE=$T/open.key oa --customer acme
is "$rc $err" "64 outlook-auth: key file $T/open.key: readable by group or others (mode 0644); chmod 600 it" \
	'a world-readable key file is refused, as ssh would'
chmod 640 "$T/open.key"
DRIP_KEY_FILE=$T/open.key oa --customer acme
like "$rc $err" '^64 .*readable by group or others \(mode 0640\)' 'a group-readable key file is refused'
head -c 31 /dev/urandom >"$T/short.key"; chmod 600 "$T/short.key"
DRIP_KEY_FILE=$T/short.key oa --customer acme
like "$rc $err" '^64 .*short.key: shorter than 32 bytes' 'a 31-byte key file is refused'
unset DRIP_KEY_FILE
CREDENTIALS_DIRECTORY=$T/nowhere oa --customer acme
like "$rc $err" "^64 .*key file $T/nowhere/drip.key: no such file" \
	'without DRIP_KEY_FILE, $CREDENTIALS_DIRECTORY/drip.key is the key'
export DRIP_KEY_FILE=$T/drip.key
is "$(log_count POST devicecode) $(rows email_identity)" "$before 0" \
	'none of these asked Microsoft anything or wrote a row'

# --- device code: pending, then approved
connect acme "$ME" 'sleep 1.5; mock_ctl POST /_mock/devicecode/approve "{\"user_code\":\"$code\",\"email\":\"$ME\"}" >/dev/null'
is "$rc" 0 'sign-in: exit 0 once the code is approved'
like "$err" 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code [A-Z0-9]{8} to authenticate' \
	"Microsoft's sign-in message is on standard error"
is "$(printf '%s' "$out" | jq -c '[.id, .customer_id, .email, .display_name, .status, .rate_per_minute, .daily_cap]')" \
	"[1,\"acme\",\"$ME\",\"Sales Team\",\"connected\",30,50]" 'the identity is printed as stored'
is "$(printf '%s' "$out" | jq -r '[.created_at, .updated_at] | map(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) | all')" \
	true '  with RFC 3339 times'
is "$(printf '%s' "$out" | jq -c 'keys')" \
	'["created_at","customer_id","daily_cap","display_name","email","id","rate_per_minute","status","updated_at"]' \
	'  and nothing else (no token)'
ok 'it polled while the sign-in was pending' test "$(log_count POST "$tokens" 400)" -ge 1
is "$(sql "SELECT status, graph_user_id IS NOT NULL, access_expires_at > now() + interval '50 minutes' FROM drip.email_identity")" \
	'connected|t|t' 'the row: connected, Graph user id, expiry an hour away'

# --- tokens sealed at rest
is "$(sql "SELECT position('eyJ0eXAi'::bytea IN access_token) + position('0.AVYA'::bytea IN refresh_token)
	FROM drip.email_identity")" 0 \
	'the raw columns hold no token text (no JWT, no refresh-token prefix)'
is "$(sql "SELECT length(access_token) BETWEEN 1500 + 28 AND 4000, length(refresh_token) > 800 FROM drip.email_identity")" \
	't|t' 'they are sealed tokens of the right size (nonce + tag = 28 bytes more)'
sql "SELECT * FROM drip.email_identity" >"$T/row.txt"
ok 'the whole row, as text, has no token in it' sh -c "! grep -q -e eyJ0eXAi -e 0.AVYA '$T/row.txt'"

# --- --check: refresh (with rotation) and /me
r0=$(sql "SELECT md5(refresh_token) FROM drip.email_identity WHERE id = 1")
t0=$(log_count POST "$tokens" 200)
oa --check 1
is "$rc" 0 '--check: exit 0'
is "$(printf '%s' "$out" | jq -r .status)" connected '  prints the identity, connected'
is "$(( $(log_count POST "$tokens" 200) - t0 ))" 1 '  spent the refresh token once'
ok '  and stored the rotated one' test "$(sql "SELECT md5(refresh_token) FROM drip.email_identity WHERE id = 1")" != "$r0"
oa --check 1
is "$rc" 0 '--check again works: the stored refresh token is the live one'

# Two hosts refreshing at once: the row lock makes the second wait and use
# the token the first stored; the mock's strict rotation kills a token once
# used, so a lost race would end in invalid_grant.
faults '{"rules":[{"path":"/token$","latency_ms":600}]}'
bad0=$(log_count POST "$tokens" 400)
outlook-auth --check 1 >"$T/a.out" 2>"$T/a.err" & pa=$!
outlook-auth --check 1 >"$T/b.out" 2>"$T/b.err" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
cat "$T/a.out" "$T/a.err" "$T/b.out" "$T/b.err" >>"$T/all-output"
faults '{}'
is "$ra $rb" "0 0" 'two concurrent --check: both succeed'
is "$(cat "$T/a.out" "$T/b.out" | jq -r .status | sort -u)" connected '  both print it connected'
is "$(( $(log_count POST "$tokens" 400) - bad0 ))" 0 '  the mock never refused a refresh token (none used twice)'
is "$(sql "SELECT status FROM drip.email_identity WHERE id = 1")" connected '  the identity stays connected'
oa --check 1
is "$rc" 0 '  and the stored refresh token is the last one issued (it still works)'

# 401 -> refresh -> retry
faults '{"rules":[{"path":"/me$","status":401,"count":1}]}'
t0=$(log_count POST "$tokens" 200); m0=$(log_count GET '/me$')
oa --check 1
is "$rc" 0 '401 InvalidAuthenticationToken on /me: refreshed once and tried again'
is "$(( $(log_count POST "$tokens" 200) - t0 )) $(( $(log_count GET '/me$') - m0 ))" "2 2" \
	'  (two refreshes: the check and the retry; /me twice)'
faults '{"rules":[{"path":"/me$","status":401,"count":2}]}'
oa --check 1
is "$rc" 77 'a second 401 after a fresh token: 77'
like "$err" 'reading the mailbox \(/me\): InvalidAuthenticationToken' '  naming the code'
faults '{}'

# Throttling and unavailability with Retry-After
faults '{"rules":[{"path":"/token$","status":429,"retry_after":"1","count":1}]}'
start=$(date +%s.%N)
oa --check 1
is "$rc" 0 '429 on the token endpoint with Retry-After: 1: waited and succeeded'
ok '  after about a second' awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a >= 1) }'
faults '{"rules":[{"path":"/me$","status":503,"retry_after":"0.5","count":2}]}'
m0=$(log_count GET '/me$' 503)
oa --check 1
is "$rc $(( $(log_count GET '/me$' 503) - m0 ))" "0 2" '503 twice with Retry-After: 0.5: retried, succeeded'
faults '{"rules":[{"path":"/me$","status":503,"retry_after":"600"}]}'
oa --check 1
is "$rc" 69 'a Retry-After of ten minutes: 69, try again later'
like "$err" 'serviceNotAvailable' '  naming the code'
faults '{}'

# Unreachable
DRIP_LOGIN_URL=http://127.0.0.1:9 oa --check 1
is "$rc" 69 'identity platform unreachable: 69'
like "$err" 'cannot connect; try again' '  "cannot connect; try again"'
is "$(sql "SELECT status FROM drip.email_identity WHERE id = 1")" connected '  the identity is untouched'
DRIP_LOGIN_URL=http://127.0.0.1:9 oa --customer acme
is "$rc" 69 'sign-in with the service unreachable: 69'
like "$err" '^outlook-auth: sign-in: cannot connect; try again' '  "cannot connect; try again"'

# --- other device-code outcomes
n0=$(rows email_identity)
connect acme x 'mock_ctl POST /_mock/devicecode/decline "{\"user_code\":\"$code\"}" >/dev/null'
is "$rc" 77 'declined at the sign-in page: 77'
like "$err" 'sign-in declined \(authorization_declined\)' '  saying so'
faults '{"force_device":"authorization_declined"}'
connect acme x :
is "$rc" 77 'authorization_declined: 77'
faults '{"force_device":"expired_token"}'
connect acme x :
is "$rc $(printf '%s' "$err" | grep -c 'sign-in code expired (expired_token)')" "77 1" \
	'expired_token: 77, "sign-in code expired"'
faults '{"rules":[{"path":"/token$","status":400,"code":"bad_verification_code","count":1}]}'
connect acme x :
is "$rc $(printf '%s' "$err" | grep -c 'not recognised (bad_verification_code)')" "77 1" \
	'bad_verification_code: 77, "not recognised"'
faults '{"rules":[{"path":"/devicecode$","status":400,"code":"unauthorized_client","count":1}]}'
oa --customer acme
like "$rc $err" '^77 outlook-auth: sign-in: unauthorized_client' 'the application refused: 77, with the code'
faults '{}'
is "$(rows email_identity)" "$n0" 'none of them wrote anything'
faults '{"force_device":"slow_down"}'
connect acme "$ME"
is "$rc" 0 'slow_down, then approved: connected'
like "$err" 'asked to slow down: polling every 6 s' '  polling 5 s more slowly after slow_down'
is "$(printf '%s' "$out" | jq -c '[.id, .status]')" '[1,"connected"]' \
	'connecting the same mailbox again keeps its id'

# --- --list, --update
mock_ctl POST /_mock/users '{"email":"ops@acme.example","display_name":"Ops"}' >/dev/null
connect acme ops@acme.example
is "$rc $(printf '%s' "$out" | jq -c '[.id, .email]')" '0 [2,"ops@acme.example"]' 'a second mailbox'
connect globex "$ME"
is "$rc $(printf '%s' "$out" | jq -c '[.id, .customer_id]')" '0 [3,"globex"]' \
	'the same mailbox for another customer is another identity'
oa --list --customer acme
is "$(printf '%s\n' "$out" | jq -r .email | tr '\n' ' ')" "$ME ops@acme.example " '--list: the customer'"'"'s identities, one per line'
oa --list --customer nobody
is "$rc:$out" '0:' '--list of a customer without mailboxes: nothing'

oa --update 2 <<<'{"display_name":"Ops Desk","rate_per_minute":12,"daily_cap":0}'
is "$rc $(printf '%s' "$out" | jq -c '[.display_name, .rate_per_minute, .daily_cap]')" \
	'0 ["Ops Desk",12,0]' '--update: stored and printed'
before=$(sql "SELECT display_name, rate_per_minute, daily_cap FROM drip.email_identity WHERE id = 2")
oa --update 2 <<<'{"display_name":7,"rate_per_minute":0,"daily_cap":5,"status":"connected"}'
is "$rc" 65 '--update with bad fields: 65'
is "$(printf '%s\n' "$err" | sort | tr '\n' '|')" \
	'outlook-auth: display_name: must be a string|outlook-auth: rate_per_minute: must be from 1 to 10000|outlook-auth: status: unknown field|' \
	'  every error named'
is "$(sql "SELECT display_name, rate_per_minute, daily_cap FROM drip.email_identity WHERE id = 2")" "$before" \
	'  and nothing written (not even the valid daily_cap)'
must_fail 65 '--update with no object' outlook-auth --update 2 </dev/null
must_fail 66 '--update of no such identity: 66' outlook-auth --update 99 <<<'{}'
must_fail 77 '--update of another customer'"'"'s identity: 77' outlook-auth --update 3 --customer acme <<<'{}'
must_fail 77 '--check of another customer'"'"'s identity: 77' outlook-auth --check 3 --customer acme
must_fail 66 '--check of no such identity: 66' outlook-auth --check 99

# --- a sealed token does not open in another row
sql "UPDATE drip.email_identity SET refresh_token = (SELECT refresh_token FROM drip.email_identity WHERE id = 1) WHERE id = 2"
oa --check 2
is "$rc" 77 'a refresh token copied from another identity does not open: 77'
like "$err" 'identity 2: refresh_token: stored token does not open' '  saying so'
DRIP_KEY_FILE=$T/other.key; head -c 32 /dev/urandom >"$T/other.key"; chmod 600 "$T/other.key"
DRIP_KEY_FILE=$T/other.key oa --check 1
is "$rc" 77 'another key does not open the tokens: 77'
DRIP_KEY_FILE=$T/drip.key

# --- invalid_grant -> needs_reauth
mock_ctl POST "/_mock/users/$ME/revoke" >/dev/null
oa --check 1
is "$rc" 77 'a revoked sign-in (invalid_grant): 77'
is "$(printf '%s' "$out" | jq -r .status)" needs_reauth '  the identity is printed with status needs_reauth'
like "$err" "identity 1 \($ME\): .*invalid_grant.*outlook-auth --customer acme" '  and says how to connect it again'
is "$(sql "SELECT status, access_token IS NULL AND refresh_token IS NULL FROM drip.email_identity WHERE id = 1")" \
	'needs_reauth|t' '  stored: needs_reauth, tokens forgotten'
t0=$(log_count POST "$tokens")
oa --check 1
is "$rc $(( $(log_count POST "$tokens") - t0 ))" '77 0' '--check of a needs_reauth identity: 77 without asking Microsoft'
connect acme "$ME"
is "$rc $(printf '%s' "$out" | jq -c '[.id, .status]')" '0 [1,"connected"]' 'connecting again: connected, same id'

# --- --revoke
oa --revoke 1 --customer acme
is "$rc $(printf '%s' "$out" | jq -r .status)" '0 disconnected' '--revoke: disconnected'
is "$(sql "SELECT access_token IS NULL AND refresh_token IS NULL FROM drip.email_identity WHERE id = 1")" t \
	'  tokens forgotten'
must_fail 77 '--check of a disconnected identity: 77' outlook-auth --check 1
must_fail 66 '--revoke of no such identity: 66' outlook-auth --revoke 99

# --- no token anywhere
mock_ctl POST /_mock/tokens/expire >/dev/null
ok 'no token (JWT or refresh token) in any output of outlook-auth' \
	sh -c "! grep -q -e 'eyJ[A-Za-z0-9_-]\{20\}' -e '0\.AVYA' '$T/all-output'"
