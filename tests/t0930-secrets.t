#!/bin/bash
# Secrets stay secret for a whole working life of a mailbox: connect,
# --check, send-due (with token refreshes, throttling and a revoked sign-in),
# inbox-sync, events. While they run, every drip tool's arguments (ps -eo
# args) and environment (/proc/PID/environ) are sampled:
# no token is in them (the key is a file, never a variable). Every line
# any of them prints, on stdout or stderr, -v or not, is searched for the
# tokens and device codes the mock issues: none is there. Token columns
# hold no token text (t0400 reads them raw as well).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 17
db_fresh
send_env
ME=sales@acme.example

# What the mock issues (the shapes are its own: JWT-shaped access tokens,
# refresh tokens starting 0.AVYA, device codes starting DAQABIQEAAAD).
secret_re='eyJ[A-Za-z0-9_-]{16,}|0\.AVYA[A-Za-z0-9_-]{16,}|DAQABIQEAAAD[A-Za-z0-9_-]{8,}'
# A token where one starts: the random part of a message id may hold
# "eyJ" and 16 more characters (some 1,300 places in this test's output:
# once in 200 runs), but always behind another base64url character.
leak_re="(^|[^A-Za-z0-9_-])($secret_re)"
# The patterns are not idle: they match what the mock really hands out.
dc=$(curl -s -d client_id=x -d 'scope=offline_access Mail.Send' "$MOCK_URL/organizations/oauth2/v2.0/devicecode")
mock_ctl POST /_mock/devicecode/approve "{\"email\":\"probe@acme.example\"}" >/dev/null
tok=$(curl -s -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=x \
	--data-urlencode "device_code=$(printf '%s' "$dc" | jq -r .device_code)" "$MOCK_URL/organizations/oauth2/v2.0/token")
is "$(printf '%s\n%s\n' "$(printf '%s' "$dc" | jq -r .device_code)" "$(printf '%s' "$tok" | jq -r '.access_token, .refresh_token')" |
	grep -Ec "^($secret_re)")" 3 'the patterns match a device code, an access token and a refresh token of the mock'

# The sampler: the arguments and the environment of each drip tool of this
# test (found by its key file; other tests and the test's own curl calls to
# the mock are not drip's business), read from /proc as ps reads them. Bash
# builtins only: a loop that forks ps, awk and grep is too slow on a loaded
# machine to catch a tool that lives half a second.
: >"$T/sampling"
tool_re='(^| |/)(send-due|outlook-auth|inbox-sync|events)( |$)'
sampler() {
	local d e hit args env
	while [ -e "$T/sampling" ]; do
		for d in /proc/[0-9]*; do
			mapfile -d '' args 2>/dev/null <"$d/cmdline" || continue
			[[ "${args[*]}" =~ $tool_re ]] || continue
			mapfile -d '' env 2>/dev/null <"$d/environ" || continue
			hit=
			for e in "${env[@]}"; do
				[ "$e" = "DRIP_KEY_FILE=$DRIP_KEY_FILE" ] && hit=1
			done
			[ -n "$hit" ] || continue
			printf '%s %s\n' "${d#/proc/}" "${args[*]}" >>"$T/seen"
			printf '%s\n' "${env[@]}" >>"$T/env.all"
		done
		sleep 0.01
	done
}
sampler &
sampler_pid=$!
at_exit "rm -f '$T/sampling'; wait $sampler_pid"

: >"$T/all-output"
keep() { cat "$@" >>"$T/all-output"; }
v() {	# run a command, keeping its stdout and stderr
	"$@" >"$T/v.out" 2>"$T/v.err"
	rc=$?
	keep "$T/v.out" "$T/v.err"
	return $rc
}

# Slow answers keep each tool alive long enough to be sampled.
faults '{"latency_ms": 150}'
me=$(connect_mailbox acme $ME)
keep "$T/cm.out" "$T/cm.err"
ok 'connected through the device flow' test -n "$me"
v outlook-auth -v --check "$me"
is "$rc" 0 'outlook-auth -v --check (a refresh and /me)'
make_campaign "$me" 4 '{"templates": [
	{"subject": "Hello {{first_name}}", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 1, "thread": "reply"}]}'
v send -v
is "$rc $(jq -c .sent "$T/v.out")" '0 4' 'send-due -v sent step 1'
# An expired token (refresh in send-due), throttling with Retry-After, and
# an error body that quotes the request: none of it may echo a token.
mock_ctl POST /_mock/tokens/expire >/dev/null
faults '{"latency_ms": 150, "rules": [{"method": "POST", "path": "/me/messages$", "status": 429, "retry_after": "1", "count": 1},
	{"path": "/createReply$", "status": 400, "code": "ErrorInvalidRequest", "message": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9 was sent", "count": 1}]}'
export DRIP_NOW=2026-12-01T10:00:00Z
v send -v --dry-run
v send -vv
is "$rc" 0 'send-due -vv after the token expired, with throttling and a refused reply'
faults '{"latency_ms": 500}'
v inbox-sync -v --identity "$me"
is "$rc" 0 'inbox-sync -v'
v events -c acme
is "$rc" 0 'events'
v outlook-auth --list --customer acme
# A sign-in revoked at Microsoft: the failures say so, without the token.
make_campaign "$me" 2
mock_ctl POST "/_mock/users/$ME/revoke" >/dev/null
mock_ctl POST /_mock/tokens/expire >/dev/null
v send -vv
like "$(cat "$T/v.err")" 'connect|needs_reauth|invalid_grant' 'send-due on the revoked mailbox says it must be connected again'
v outlook-auth -v --check "$me"
is "$rc" 77 'outlook-auth --check on a revoked sign-in: 77'
rm -f "$T/sampling"
wait $sampler_pid

# What the sampler saw
for t in send-due outlook-auth inbox-sync; do
	ok "the sampler saw $t running" grep -Eq "(^| |/)$t( |\$)" "$T/seen"
done
ok 'no drip tool had a token in its arguments' sh -c "! grep -Eq '$leak_re' '$T/seen'"
ok "no drip tool had a token in its environment" sh -c "! grep -Eq '$leak_re' '$T/env.all'"
is "$(grep -Eic '^[A-Z_]*(TOKEN|SECRET|PASSWORD)[A-Z_]*=' "$T/env.all")" 0 \
	'nor any variable named like a token or a secret: the key is a file (DRIP_KEY_FILE)'
ok 'no token or device code in any output of the whole run' sh -c "! grep -Eq '$leak_re' '$T/all-output'" ||
	grep -Eo ".{0,80}$leak_re.{0,20}" "$T/all-output" | head -3 | sed 's/^/# /' 
is "$(sql "SELECT count(*) FROM drip.email_identity WHERE convert_from(access_token, 'SQL_ASCII') ~ 'eyJ|AVYA'
	OR convert_from(refresh_token, 'SQL_ASCII') ~ 'eyJ|AVYA'")" 0 'the token columns hold no token text'
