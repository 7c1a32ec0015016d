# lib-send.sh: a world for send-due tests (sourced after lib.sh): the Graph
# mock, a key, mailboxes connected through outlook-auth's real device flow,
# and campaigns made with campaign-create.
#
#   send_env [mock options]         start the mock; DRIP_CLIENT_ID, key file
#   connect_mailbox CUSTOMER EMAIL  sign the mailbox in; prints its id
#   make_campaign IDENTITY N [JSON] a running campaign, all week all day, with
#                                   N prospects pI@kK.example, K counting the
#                                   campaigns made; sets $CID and $K; JSON is
#                                   merged into it (jq *)
#   send [options]                  send-due with the scheduler enabled
#   sent_steps                      step ids the mock really sent, one a line
#   faults JSON                     the mock's fault set

. "$DRIP_TOP/tests/mock-graph/mock.sh"

send_env() {
	mock_start --interval 0 "$@" || { echo "Bail out! mock-graph did not start"; exit 1; }
	at_exit mock_stop
	export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000d41b
	export DRIP_KEY_FILE=$T/drip.key
	head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
	chmod 600 "$DRIP_KEY_FILE"
	export DRIP_NOW=${DRIP_NOW:-2026-11-30T10:00:00Z}
}

connect_mailbox() {
	outlook-auth --customer "$1" >"$T/cm.out" 2>"$T/cm.err" &
	_pid=$!
	# approve the newest pending code for EMAIL as soon as there is one
	for _i in $(seq 600); do
		mock_ctl POST /_mock/devicecode/approve "{\"email\":\"$2\"}" >/dev/null 2>&1 && break
		sleep 0.05
	done
	( sleep 60; kill "$_pid" 2>/dev/null ) >/dev/null 2>&1 &
	_guard=$!
	wait $_pid
	_rc=$?
	kill $_guard 2>/dev/null
	[ $_rc -eq 0 ] || { cat "$T/cm.err" >&2; return 1; }
	jq -r .id "$T/cm.out"
}

K=0
make_campaign() {
	_n=$2
	K=$((K + 1))
	jq -n --argjson id "$1" --argjson n "$_n" --argjson k "$K" --argjson extra "${3:-{\}}" '{
		customer_id: "acme", name: ("campaign of mailbox \($id)"), identity_id: $id,
		status: "running",
		send_window: {days: ["mon","tue","wed","thu","fri","sat","sun"], start: "00:00", end: "24:00"},
		templates: [{subject: "Hello {{first_name|there}}", body_text: "Hi {{first_name|there}}, from {{sender_name}}"}],
		prospects: [range($n) | {email: "p\(.)@k\($k).example", first_name: "P\(.)"}]
	} * $extra' | campaign-create >"$T/mk.out" || return 1
	CID=$(jq -r .id "$T/mk.out")
}

send() {
	ENABLE_EMAIL_SCHEDULER=true send-due "$@"
}

sent_steps() {
	jq -r '.headers["x-drip-step"] // .headers["X-Drip-Step"] // empty' "$MOCK_SENT_LOG"
}

faults() {
	mock_ctl POST /_mock/faults "$1" >/dev/null
}

# minutes_after TIME N: TIME plus N minutes, RFC 3339
minutes_after() {
	date -u -d "@$(( $(date -u -d "$1" +%s) + 60 * $2 ))" +%Y-%m-%dT%H:%M:%SZ
}

# drain: run send-due, a minute later each time, until no step waits
# (at most N runs); the clock it ends on is left in DRIP_NOW
drain() {
	_start=$DRIP_NOW
	for _m in $(seq 1 "${1:-15}"); do
		[ "$(rows email_campaign_prospect_step "status IN ('scheduled', 'claimed', 'sending')")" = 0 ] && return 0
		export DRIP_NOW=$(minutes_after "$_start" $((_m * 5)))
		send --max-seconds 30 >>"$T/drain.json" 2>>"$T/drain.err"
	done
}
