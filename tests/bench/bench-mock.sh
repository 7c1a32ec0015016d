#!/bin/bash
# bench-mock.sh: the Graph mock alone, no database: wrk creating drafts
# (drip's JSON, 1 KB HTML body, an x-drip-step header) and sending them,
# with keep-alive (as drip's requests go), then with a new connection for
# every send (as drip's sends went until 5c4a02f). Prints the mock's CPU
# per 1,000 draft+send pairs and the load average of each run.
#
#   tests/bench/bench-mock.sh
#   BENCH_MOCK_RUNS=5 BENCH_RAW_SECONDS=5 tests/bench/bench-mock.sh
#
# BENCH_MOCK_RUNS (3) runs of BENCH_RAW_SECONDS (10) seconds for each
# pattern, BENCH_CONCURRENCY (64) wrk connections, BENCH_MOCK_PROFILE=FILE
# runs the mock under cProfile and writes its stats to FILE. The Python
# work alone, without sockets: tests/bench/mock-micro.py.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/mock-graph/mock.sh"
RUNS=${BENCH_MOCK_RUNS:-3}
SECS=${BENCH_RAW_SECONDS:-10}
CONC=${BENCH_CONCURRENCY:-64}
HZ=$(getconf CLK_TCK)
command -v wrk >/dev/null || { echo "bench-mock: skipped: wrk is not installed"; exit 0; }

export MOCK_DIR
MOCK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drip-bench-mock.XXXXXX")
trap 'mock_stop >/dev/null 2>&1; rm -rf "$MOCK_DIR"' EXIT
# BENCH_MOCK=SCRIPT measures another mock-graph (e.g. an older one, from
# git show REV:tests/mock-graph/mock-graph) in the same way.
[ -z "${BENCH_MOCK:-}" ] || _mock_bin=$BENCH_MOCK
if [ -n "${BENCH_MOCK_PROFILE:-}" ]; then
	# mock.sh starts the script itself; a wrapper runs it under cProfile,
	# timed by the thread's CPU clock (not wall time: the machine is shared).
	cat >"$MOCK_DIR/profiled.py" <<'PY'
import cProfile, importlib.machinery, importlib.util, sys, time
out, path = sys.argv[1], sys.argv[2]
loader = importlib.machinery.SourceFileLoader('mock_graph', path)
mod = importlib.util.module_from_spec(importlib.util.spec_from_loader('mock_graph', loader))
loader.exec_module(mod)
prof = cProfile.Profile(time.thread_time)
prof.enable()
try:
    mod.main(sys.argv[3:])
finally:
    prof.disable()
    prof.dump_stats(out)
PY
	printf '#!/bin/sh\nexec python3 %s %s %s "$@"\n' "$MOCK_DIR/profiled.py" \
		"$BENCH_MOCK_PROFILE" "$_mock_bin" >"$MOCK_DIR/mock-profiled"
	chmod +x "$MOCK_DIR/mock-profiled"
	_mock_bin=$MOCK_DIR/mock-profiled
fi
mock_start --interval 0 || exit 1

dc=$(curl -s -d client_id=bench -d scope=Mail.Send "$MOCK_URL/common/oauth2/v2.0/devicecode" | jq -r .device_code)
mock_ctl POST /_mock/devicecode/approve '{"email":"raw@acme.example"}' >/dev/null || exit 1
BENCH_TOKEN=$(curl -s -d client_id=bench -d device_code="$dc" \
	-d grant_type=urn:ietf:params:oauth:grant-type:device_code \
	"$MOCK_URL/common/oauth2/v2.0/token" | jq -r .access_token)
# The body of seed.sql's step 1 with its variables filled, as drip sends it.
html="<p>Hi First1,</p><p>I noticed Company 1 works in fintech. "
for _ in $(seq 10); do html="${html}We help teams like yours send fewer emails that say more. "; done
html="$html</p><p>Worth a short call next week?</p><p>M0001<br>m0001@acme.example</p>"
BENCH_BODY=$(jq -cn --arg html "$html" '{subject: "Quick question, First1",
	body: {contentType: "html", content: $html},
	toRecipients: [{emailAddress: {address: "p1@prospect1.example"}}],
	internetMessageHeaders: [{name: "x-drip-step", value: "123456"}]}')
export BENCH_TOKEN BENCH_BODY

# run LABEL close|keep
run() {
	local out=$MOCK_DIR/wrk.out u0 u1 s0 s1 sent secs l
	BENCH_SEND_CLOSE=
	[ "$2" = close ] && BENCH_SEND_CLOSE=1
	export BENCH_SEND_CLOSE
	l=$(cut -d' ' -f1 /proc/loadavg)
	read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$MOCK_PID/stat")
	wrk -t1 -c"$CONC" -d"${SECS}s" -s "$top/tests/bench/draft-send.lua" \
		"$MOCK_URL/v1.0/me/messages" >"$out" 2>&1 || { cat "$out"; exit 1; }
	read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$MOCK_PID/stat")
	sent=$(sed -n 's/^sent \([0-9]*\) failed 0 seconds .*/\1/p' "$out")
	secs=$(sed -n 's/^sent .* seconds \(.*\)/\1/p' "$out")
	[ -n "$sent" ] || { echo "wrk: $(tail -n 3 "$out")"; exit 1; }
	awk -v s="$sent" -v d="$secs" -v u="$((u1 - u0))" -v k="$((s1 - s0))" -v hz="$HZ" -v l="$l" -v what="$1" \
		'BEGIN { printf "%-10s %7d sends %6.0f/s  mock CPU s per 1000 sends %.3f (user %.3f, system %.3f; %3.0f%% of a core)  load %s\n",
			what, s, s / d, (u + k) / hz * 1000 / s, u / hz * 1000 / s, k / hz * 1000 / s, (u + k) / hz / d * 100, l }'
}

echo "# mock-graph alone ($_mock_bin), wrk -t1 -c$CONC, ${SECS} s runs, $(git -C "$top" describe --always --dirty 2>/dev/null), python $(python3 -c 'import sys; print(sys.version.split()[0])')"
for i in $(seq "$RUNS"); do
	run keep-alive keep
	run new-conn close
done
[ -z "${BENCH_MOCK_PROFILE:-}" ] || echo "# profile: $BENCH_MOCK_PROFILE"
