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
	_code=
	for _i in $(seq 200); do
		_code=$(sed -n 's/.*enter the code \([A-Z0-9]*\) to authenticate.*/\1/p' "$T/cm.err")
		[ -n "$_code" ] && break
		sleep 0.05
	done
	mock_ctl POST /_mock/devicecode/approve \
		"{\"user_code\":\"$_code\",\"email\":\"$2\"}" >/dev/null
	wait $_pid || { cat "$T/cm.err" >&2; return 1; }
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
