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
#   mock_tls_start           a TLS front offering HTTP/2 before the mock (below)
#   mock_tls_stop [SIGNAL]   stop it (TERM, or KILL to drop its connections)
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

# The real Graph and identity platform speak TLS and offer HTTP/2 by ALPN;
# the mock speaks plain HTTP/1.1. mock_tls_start puts nghttpx
# before the running mock (TLS with a throwaway certificate for 127.0.0.1,
# h2 by ALPN, HTTP/1.1 to the mock) and points DRIP_GRAPH_URL and
# DRIP_LOGIN_URL at it, with DRIP_CA_FILE naming the certificate. It
# exports MOCK_TLS_URL, MOCK_TLS_PID and MOCK_TLS_LOG: one line a request,
# "PROTOCOL CLIENT-PORT METHOD PATH STATUS" (h2, or http/1.1; the client
# port tells the connections apart). After mock_tls_stop it starts again on
# the same port with the same certificate, so drip's URLs stay right.
# mock_ctl still talks to the mock itself.
_mock_nghttpx() { command -v nghttpx || echo /usr/sbin/nghttpx; }

mock_tls_start() {
	local dir=$MOCK_DIR/tls code
	mkdir -p "$dir"
	if [ ! -s "$dir/cert.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 \
			-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
			>/dev/null 2>&1 || { echo "mock_tls_start: openssl failed" >&2; return 1; }
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
			>"$dir/port" || return 1
	fi
	MOCK_TLS_URL=https://127.0.0.1:$(cat "$dir/port")
	MOCK_TLS_LOG=$dir/access.log
	"$(_mock_nghttpx)" --conf=/dev/null --single-process --workers=1 \
		--frontend="127.0.0.1,$(cat "$dir/port")" --backend="127.0.0.1,${MOCK_URL##*:}" \
		--accesslog-file="$MOCK_TLS_LOG" \
		--accesslog-format='$alpn $remote_port $method $path $status' \
		--errorlog-file="$dir/error.log" "$dir/key.pem" "$dir/cert.pem" 2>>"$dir/error.log" &
	MOCK_TLS_PID=$!
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/cert.pem" \
			"$MOCK_TLS_URL/v1.0/me" 2>/dev/null)
		[ "$code" != 000 ] && break
		kill -0 "$MOCK_TLS_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$code" = 000 ]; then
		echo "mock_tls_start: nghttpx does not answer:" >&2
		cat "$dir/error.log" >&2
		mock_tls_stop
		return 1
	fi
	: >"$MOCK_TLS_LOG"	# the log is the caller's requests, not the probe's
	DRIP_GRAPH_URL=$MOCK_TLS_URL/v1.0
	DRIP_LOGIN_URL=$MOCK_TLS_URL
	DRIP_CA_FILE=$dir/cert.pem
	export MOCK_TLS_URL MOCK_TLS_LOG MOCK_TLS_PID DRIP_GRAPH_URL DRIP_LOGIN_URL DRIP_CA_FILE
}

mock_tls_stop() {
	[ -n "${MOCK_TLS_PID:-}" ] || return 0
	kill -"${1:-TERM}" "$MOCK_TLS_PID" 2>/dev/null
	wait "$MOCK_TLS_PID" 2>/dev/null
	MOCK_TLS_PID=
}
