# mock.sh: shell functions to run tests/mock-graph/mock-graph (bash; source it).
#
#   mock_start [OPTION...]   start the mock in the background, wait for it;
#                            OPTIONs go to mock-graph (--auto-approve, ...)
#   mock_stop                stop it (SIGTERM), wait, return its exit status
#   mock_ctl METHOD PATH [JSON]
#                            call a control endpoint (/_mock/...); prints the
#                            answer; non-zero when the status is >= 400
#   mock_sent_count [MAILBOX]
#                            how many messages were really sent (by MAILBOX)
#
# mock_start works in $MOCK_DIR (a fresh mktemp -d unless set) and exports
# MOCK_URL, DRIP_LOGIN_URL, DRIP_GRAPH_URL, MOCK_SENT_LOG, MOCK_LOG, MOCK_PID
# and MOCK_DIR. mock_stop removes the folder only if mock_start made it.
# Needs curl and jq.

_mock_bin=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mock-graph

mock_start() {
	if [ -n "${MOCK_PID:-}" ] && kill -0 "$MOCK_PID" 2>/dev/null; then
		echo "mock_start: a mock is already running (pid $MOCK_PID)" >&2
		return 1
	fi
	_mock_made_dir=
	if [ -z "${MOCK_DIR:-}" ]; then
		MOCK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mock-graph.XXXXXX") || return 1
		_mock_made_dir=1
	fi
	local portfile=$MOCK_DIR/port
	rm -f "$portfile"
	MOCK_LOG=$MOCK_DIR/requests.log
	MOCK_SENT_LOG=$MOCK_DIR/sent.log
	"$_mock_bin" --port-file "$portfile" --log "$MOCK_LOG" \
		--sent-log "$MOCK_SENT_LOG" "$@" 2>>"$MOCK_DIR/stderr" &
	MOCK_PID=$!
	# The port file appears (renamed into place) once the mock listens.
	for _ in $(seq 100); do
		[ -s "$portfile" ] && break
		if ! kill -0 "$MOCK_PID" 2>/dev/null; then
			echo "mock_start: mock-graph exited:" >&2
			cat "$MOCK_DIR/stderr" >&2
			wait "$MOCK_PID" 2>/dev/null
			MOCK_PID=
			return 1
		fi
		sleep 0.1
	done
	if [ ! -s "$portfile" ]; then
		echo "mock_start: no port file after 10 s" >&2
		mock_stop
		return 1
	fi
	MOCK_URL=http://127.0.0.1:$(cat "$portfile")
	DRIP_LOGIN_URL=$MOCK_URL
	DRIP_GRAPH_URL=$MOCK_URL/v1.0
	export MOCK_URL DRIP_LOGIN_URL DRIP_GRAPH_URL MOCK_SENT_LOG MOCK_LOG MOCK_PID MOCK_DIR
}

mock_stop() {
	local rc=0
	if [ -n "${MOCK_PID:-}" ]; then
		kill -TERM "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
		rc=$?
		MOCK_PID=
	fi
	if [ -n "${_mock_made_dir:-}" ]; then
		rm -rf "$MOCK_DIR"
		MOCK_DIR=
		_mock_made_dir=
	fi
	return $rc
}

mock_ctl() {
	local method=$1 path=$2 out code
	local args=(-s -X "$method")
	if [ $# -ge 3 ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$3")
	fi
	out=$(curl "${args[@]}" -w '\n%{http_code}' "$MOCK_URL$path") || return 1
	code=${out##*$'\n'}
	printf '%s\n' "${out%$'\n'*}"
	[ "$code" -lt 400 ]
}

mock_sent_count() {
	local q=
	if [ $# -ge 1 ]; then
		q="?mailbox=$(jq -rn --arg m "$1" '$m|@uri')"
	fi
	mock_ctl GET "/_mock/sent$q" | jq length
}
