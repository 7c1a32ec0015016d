#!/bin/bash
# bench-send.sh: how fast send-due sends, what it costs, and how it compares.
#
#   raw       the mock's own capacity: wrk creating and sending drafts, no database
#   zero      send-due, zero-latency mock: BENCH_STEPS due steps over
#             BENCH_MAILBOXES mailboxes, BENCH_REPEAT times: sends/s, CPU
#             seconds per 1,000 sends (send-due, PostgreSQL, the mock)
#   latency   the same with BENCH_LATENCY_MS on every Graph request
#   peer      the same work on graphile-worker (tests/bench/peer), both latencies
#   tls       send-due through a TLS front (nghttpx before the mock, offering
#             HTTP/2 as Graph does; drip asks for HTTP/1.1), in pairs with the
#             mock straight: sends/s, send-due's CPU per 1,000 sends, nghttpx's
#   memory    send-due's peak RSS over BENCH_BIG_STEPS steps
#   claim     one claim of 100 with BENCH_FUTURE_STEPS future steps in the table
#             (BENCH_CLAIM_SERIES series, each on one CPU, the CPUs in turn),
#             with BENCH_MAILBOXES and then BENCH_STEPS more due, then with
#             every mailbox's claim ledger as a day of sending leaves it;
#             and its plan
#
# BENCH_AGAINST=DIR (the build directory of another commit with the same
# migrations, e.g. git worktree add /tmp/old REV && make -C /tmp/old): the
# zero runs come in pairs, that build's send-due then ours, and print each
# pair's ratio. On a VM whose speed drifts by a quarter, pairs tell a
# change's effect where separate runs cannot.
#
# BENCH_CLAIM_AGAINST=REV (a commit): the claim section also times the
# claim_due of REV and of HEAD side by side (tests/bench/claim-pairs.sh).
#
# BENCH_HUGE_PAGES=N (root): the server's shared memory in huge pages
# (tests/bench/common.sh). The header says which, and what a page fault costs.
#
# BENCH_ONLY=zero,claim runs some of them. Not part of make check: it takes
# minutes and its figures depend on the machine. See tests/bench/README.md.
. "$(dirname "$0")/common.sh"

STEPS=${BENCH_STEPS:-20000}
MAILBOXES=${BENCH_MAILBOXES:-1000}
REPEAT=${BENCH_REPEAT:-3}
CONC=${BENCH_CONCURRENCY:-128}
BATCH=${BENCH_BATCH:-200}
LAT_MS=${BENCH_LATENCY_MS:-100}
LAT_CONC=${BENCH_LAT_CONCURRENCY:-1024}
LAT_STEPS=${BENCH_LAT_STEPS:-$STEPS}
BIG=${BENCH_BIG_STEPS:-100000}
FUTURE=${BENCH_FUTURE_STEPS:-1000000}
RAW_SECONDS=${BENCH_RAW_SECONDS:-10}
WRAP=${BENCH_WRAP:-}	# a profiler's command line before each send-due run
AGAINST=${BENCH_AGAINST:-}
CLAIM_AGAINST=${BENCH_CLAIM_AGAINST:-}	# a commit: its claim_due beside ours
CLAIM_SERIES=${BENCH_CLAIM_SERIES:-6}
[ -z "$AGAINST" ] || [ -x "$AGAINST/bin/send-due" ] || die "no $AGAINST/bin/send-due"
ONLY=,${BENCH_ONLY:-raw,zero,tls,latency,peer,memory,claim},
want() { case $ONLY in *,$1,*) return 0 ;; esac; return 1; }
peer_dir=$bench_top/tests/bench/peer

[ -x "$O/bin/send-due" ] || die "no $O/bin/send-due: run make first"
for t in jq curl psql; do
	command -v $t >/dev/null || die "$t is needed"
done
if want raw && ! command -v wrk >/dev/null; then
	say "raw: skipped: wrk is not installed (apt-get install wrk)"
	ONLY=${ONLY/,raw,/,}
fi
if want tls && ! { command -v nghttpx >/dev/null || [ -x /usr/sbin/nghttpx ]; }; then
	say "tls: skipped: nghttpx is not installed (apt-get install nghttp2-proxy)"
	ONLY=${ONLY/,tls,/,}
fi
if want peer && ! command -v node >/dev/null; then
	say "peer: skipped: node is not installed"
	ONLY=${ONLY/,peer,/,}
fi

# ---- one send-due run, measured and checked ----------------------------
#
# drip_run NAME N CONCURRENCY [SEND_DUE]: seed N due steps, run send-due
# (or the SEND_DUE given), and set
# R_RATE (sends/s), R_SECONDS, R_SENT, R_CPU_SD, R_CPU_PG, R_CPU_MOCK (CPU
# seconds per 1,000 sends), R_RSS (KiB), R_LOAD. Fails unless every step
# was sent with its bookkeeping: step sent, its 'sent' event, its message
# metadata, the next step scheduled, and the message in the mock.
drip_run() {
	local name=$1 n=$2 conc=$3 bin=${4:-send-due} out=$BENCH_DIR/$1 t0 t1 pg0 pg1 mk0 mk1 sent0 sent1 check
	seed "$name" "$n" "$(at_minutes -60)"
	settle drip.email_campaign_prospect_step
	psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null
	R_LOAD=$(load)
	sent0=$(mock_sent)
	pg0=$(pg_ticks); mk0=$(pid_ticks "$MOCK_PID"); t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # BENCH_WRAP is a command line, split
	DRIP_NOW=$(at_minutes 0) ENABLE_EMAIL_SCHEDULER=true timed "$out" \
		$WRAP "$bin" -q --max-seconds 600 --batch "$BATCH" --concurrency "$conc" ||
		die "send-due failed: $(cat "$out.err")"
	t1=$(date +%s.%N); pg1=$(pg_ticks); mk1=$(pid_ticks "$MOCK_PID")
	sent1=$(mock_sent)
	R_SENT=$(jq .sent "$out")
	R_SECONDS=$(calc "$t1 - $t0")
	R_RATE=$(calc "$R_SENT / $R_SECONDS")
	R_CPU_SD=$(calc "$(cpu_seconds "$out") * 1000 / $R_SENT")
	R_CPU_PG=$(calc "($pg1 - $pg0) / $HZ * 1000 / $R_SENT")
	R_CPU_MOCK=$(calc "($mk1 - $mk0) / $HZ * 1000 / $R_SENT")
	R_RSS=$(time_field "$out" 'Maximum resident set size (kbytes)')
	check=$(psql_q -v name="$name" <<'EOF'
SELECT count(*) FILTER (WHERE s.step = 1 AND s.status = 'sent') || ' ' ||
       count(*) FILTER (WHERE s.step = 2 AND s.status = 'scheduled') || ' ' ||
       (SELECT count(*) FROM drip.email_event e JOIN drip.email_campaign c ON c.id = e.campaign_id
        WHERE c.name = :'name' AND e.type = 'sent') || ' ' ||
       (SELECT count(*) FROM drip.email_message_metadata m JOIN drip.email_campaign c ON c.id = m.campaign_id
        WHERE c.name = :'name' AND m.sent_at IS NOT NULL)
FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign c ON c.id = s.campaign_id
WHERE c.name = :'name'
EOF
)
	[ "$check $((sent1 - sent0))" = "$n $n $n $n $n" ] ||
		die "$name: not all sent with their bookkeeping: sent, next steps, events, metadata, mock: $check $((sent1 - sent0)) (wanted $n each); $(cat "$out")"
	psql_q -F ' ' -c "SELECT calls, rows, round(total_exec_time::numeric), left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 6" >"$out.pgss"
}

drip_line() {	# LABEL
	say '  %s: %d sent in %.2f s = %d sends/s; CPU s per 1000 sends: send-due %.3f, postgres %.3f, mock %.3f; max RSS %d KiB; load %s' \
		"$1" "$R_SENT" "$R_SECONDS" "$(fmt "$R_RATE")" "$R_CPU_SD" "$R_CPU_PG" "$R_CPU_MOCK" "$R_RSS" "$R_LOAD"
}

pgss_lines() {	# NAME: the statements that took most of PostgreSQL's time
	say '    statements (calls, rows, ms, query):'
	sed 's/^/      /' "$BENCH_DIR/$1.pgss" | while IFS= read -r l; do say '%s' "$l"; done
}

# ---- the peer -----------------------------------------------------------
peer_setup() {
	if [ ! -d "$peer_dir/node_modules/graphile-worker" ]; then
		(cd "$peer_dir" && npm ci --silent --no-audit --no-fund) >&2 ||
			die "npm ci in $peer_dir failed"
	fi
	node "$peer_dir/worker.js" migrate || die "peer: migrate failed"
	node "$peer_dir/worker.js" tokens >/dev/null || die "peer: tokens failed"
}

# peer_run NAME N CONCURRENCY: as drip_run, for the peer: P_RATE, P_SECONDS,
# P_DONE, P_CPU_NODE, P_CPU_PG, P_CPU_MOCK, P_RSS, P_LOAD, P_JSON.
peer_run() {
	local name=$1 n=$2 conc=$3 out=$BENCH_DIR/$1 t0 t1 pg0 pg1 mk0 mk1 sent0 sent1 check
	seed "$name" "$n" "$(at_minutes -60)"
	psql_q -v name="$name" >/dev/null <<'EOF' || die "peer: add_job failed"
SELECT count(graphile_worker.add_job('send', json_build_object('step_id', s.id)))
FROM (SELECT s.id FROM drip.email_campaign_prospect_step s
      JOIN drip.email_campaign c ON c.id = s.campaign_id
      WHERE c.name = :'name' ORDER BY s.id) s;
VACUUM ANALYZE graphile_worker._private_jobs;
EOF
	settle drip.email_campaign_prospect_step
	psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null
	P_LOAD=$(load)
	sent0=$(mock_sent)
	pg0=$(pg_ticks); mk0=$(pid_ticks "$MOCK_PID"); t0=$(date +%s.%N)
	PEER_CONCURRENCY=$conc timed "$out" node "$peer_dir/worker.js" run "$n" ||
		die "peer failed: $(tail -n 5 "$out.err")"
	t1=$(date +%s.%N); pg1=$(pg_ticks); mk1=$(pid_ticks "$MOCK_PID")
	sent1=$(mock_sent)
	P_JSON=$(cat "$out")
	P_DONE=$(jq .done "$out")
	P_SECONDS=$(calc "$t1 - $t0")
	P_RATE=$(calc "$P_DONE / $P_SECONDS")
	P_CPU_NODE=$(calc "$(cpu_seconds "$out") * 1000 / $P_DONE")
	P_CPU_PG=$(calc "($pg1 - $pg0) / $HZ * 1000 / $P_DONE")
	P_CPU_MOCK=$(calc "($mk1 - $mk0) / $HZ * 1000 / $P_DONE")
	P_RSS=$(time_field "$out" 'Maximum resident set size (kbytes)')
	check=$(psql_q -v name="$name" <<'EOF'
SELECT count(*) FILTER (WHERE s.status = 'sent')
FROM drip.email_campaign_prospect_step s JOIN drip.email_campaign c ON c.id = s.campaign_id
WHERE c.name = :'name'
EOF
)
	[ "$check $((sent1 - sent0)) $P_DONE" = "$n $n $n" ] ||
		die "$name: peer: sent steps, mock, jobs done: $check $((sent1 - sent0)) $P_DONE (wanted $n)"
	psql_q -F ' ' -c "SELECT calls, rows, round(total_exec_time::numeric), left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 6" >"$out.pgss"
}

peer_line() {	# LABEL
	say '  %s: %d sent in %.2f s = %d sends/s; CPU s per 1000 sends: node %.3f, postgres %.3f, mock %.3f; max RSS %d KiB; load %s; %s' \
		"$1" "$P_DONE" "$P_SECONDS" "$(fmt "$P_RATE")" "$P_CPU_NODE" "$P_CPU_PG" "$P_CPU_MOCK" "$P_RSS" "$P_LOAD" \
		"$(jq -c '{throttled, concurrency, pool, local_queue}' <<<"$P_JSON")"
}

# ---- the mock on its own ------------------------------------------------
# raw_mock LABEL [close]: wrk, one thread, CONC connections with keep-alive,
# each creating a draft (drip's JSON, same size) and sending it; no
# database. With "close", each send ends its connection (as drip's sends
# go on a fresh one). Sets RAW_RATE.
raw_mock() {
	local out=$BENCH_DIR/raw.$1 dc mk0 mk1 sent secs
	export BENCH_SEND_CLOSE=
	[ "${2:-}" = close ] && BENCH_SEND_CLOSE=1
	dc=$(curl -s -d client_id=bench -d scope=Mail.Send "$MOCK_URL/common/oauth2/v2.0/devicecode" | jq -r .device_code)
	mock_ctl POST /_mock/devicecode/approve '{"email":"raw@acme.example"}' >/dev/null || die "raw: approve"
	BENCH_TOKEN=$(curl -s -d client_id=bench -d device_code="$dc" \
		-d grant_type=urn:ietf:params:oauth:grant-type:device_code \
		"$MOCK_URL/common/oauth2/v2.0/token" | jq -r .access_token)
	BENCH_BODY=$(jq -cn --arg html "$(psql_q -c "SELECT body_html FROM drip.email_campaign_template WHERE step = 1 LIMIT 1" 2>/dev/null ||
		echo '<p>Hello</p>')" '{subject: "Quick question, First1", body: {contentType: "html", content:
		($html | gsub("\\{\\{[^}|]*\\|?(?<f>[^}]*)\\}\\}"; .f))},
		toRecipients: [{emailAddress: {address: "p1@prospect1.example"}}],
		internetMessageHeaders: [{name: "x-drip-step", value: "123456"}]}')
	export BENCH_TOKEN BENCH_BODY
	R_LOAD=$(load)
	mk0=$(pid_ticks "$MOCK_PID")
	wrk -t1 -c"$CONC" -d"${RAW_SECONDS}s" -s "$bench_top/tests/bench/draft-send.lua" \
		"$MOCK_URL/v1.0/me/messages" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
	mk1=$(pid_ticks "$MOCK_PID")
	sent=$(sed -n 's/^sent \([0-9]*\) failed 0 seconds .*/\1/p' "$out")
	secs=$(sed -n 's/^sent .* seconds \(.*\)/\1/p' "$out")
	[ -n "$sent" ] || die "wrk: $(tail -n 3 "$out")"
	RAW_RATE=$(calc "$sent / $secs")
	RAW_CPU=$(calc "($mk1 - $mk0) / $HZ * 1000 / $sent")
	say '  %s: %d drafts created and sent in %.2f s = %d sends/s; mock CPU s per 1000 sends %.3f (%.0f%% of a core); load %s' \
		"$1" "$sent" "$secs" "$(fmt "$RAW_RATE")" "$RAW_CPU" "$(calc "($mk1 - $mk0) / $HZ / $secs * 100")" "$R_LOAD"
}

# ---- the claim ----------------------------------------------------------
claim_cost() {	# LABEL: CLAIM_SERIES series, each 11 claims of 100 rolled back in one session
	local t times first series= av= k cpu m c percpu=
	local -a bycpu=()
	t=$(at_minutes 0)
	for k in $(seq "$CLAIM_SERIES"); do
		# Series apart (this VM slows down as a whole, for seconds at a
		# time), each on a table vacuumed of the versions the claims
		# before it made and rolled back.
		[ "$k" = 1 ] || { psql_q -c 'VACUUM drip.email_campaign_prospect_step' ||
			die "VACUUM failed"; sleep 5; }
		# Each series' backend on one CPU, the CPUs in turn: this VM's
		# two vCPUs have run the same claim at 4.0 and 7.2 ms in the
		# same minute (tests/bench/README.md).
		cpu=$(((k - 1) % $(nproc)))
		times=$({ echo 'SELECT pg_backend_pid() AS pid \gset'
			echo '\setenv BENCH_PID :pid'
			echo "\\! taskset -cp $cpu \$BENCH_PID >/dev/null"
			for _ in $(seq 11); do
				printf "BEGIN;\nEXPLAIN (ANALYZE, BUFFERS) SELECT * FROM drip.claim_due('bench', '%s', 100, '5 minutes');\nROLLBACK;\n" "$t"
			done; } | psql_q | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')
		[ "$k" = 1 ] && first=$(echo "$times" | head -n 1)
		# shellcheck disable=SC2046
		m=$(median $(echo "$times" | tail -n +2))
		series="$series $m"
		bycpu[cpu]="${bycpu[cpu]:-} $m"
		av="$av $(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")"
	done
	for c in "${!bycpu[@]}"; do
		# shellcheck disable=SC2086
		percpu="$percpu${percpu:+; }CPU $c: $(printf '%.2f' "$(median ${bycpu[c]})") ms ($(echo ${bycpu[c]} | tr ' ' '/'))"
	done
	# shellcheck disable=SC2086
	CLAIM_MS=$(median $series)
	say '  %s: one claim of 100: median %.2f ms of %d series (each the median of 10:%s ms; first in its session %.2f ms, with planning); by CPU: %s; autovacuum workers after each:%s; load %s' \
		"$1" "$CLAIM_MS" "$CLAIM_SERIES" "$series" "$first" "$percpu" "$av" "$(load)"
}

# Rows just seeded start autovacuum and ANALYZE on the step table (8% of
# PostgreSQL's CPU in a zero-latency run, perf, 2026-11-28) and, a million
# of them, leave hundreds of megabytes for the kernel to write back. In
# production steps are imported well before they are due; every run is
# timed after a vacuum, a checkpoint and a sync, not while they compete
# with it for the two cores and the disk (the peer's job table is
# vacuumed too).
settle() {	# [TABLE]: that table, or the whole database
	psql_q -c "VACUUM (ANALYZE) ${1:-}" -c 'CHECKPOINT' || die "VACUUM failed"
	sync
}

# Before the claims, every table: the peer's job table and the runs'
# events and metadata would otherwise be vacuumed beside the claims.
vacuum_steps() {
	local t
	t=$(date +%s.%N)
	settle
	say '  (VACUUM ANALYZE of the database, as autovacuum would do, CHECKPOINT and sync: %.1f s; load %s)' \
		"$(calc "$(date +%s.%N) - $t")" "$(load)"
}

# fill_ledgers T: every mailbox's claim ledger (drip.email_identity_usage)
# as a mailbox that claimed all day leaves it, 64 moments (the most it
# keeps), one claim each, 20 minutes apart up to 20 minutes before T:
# within the day, not the minute, so no claim waits for them. Each claim
# reads and rewrites the ledger of every mailbox it claims from, and the
# series before this one start from empty ledgers.
fill_ledgers() {
	psql_q -v t="$1" >/dev/null <<'EOF' || die "filling the ledgers failed"
UPDATE drip.email_identity_usage
SET since = :'t'::timestamptz - interval '25 hours', base = 0,
    at = ARRAY(SELECT :'t'::timestamptz - g * interval '20 minutes'
	       FROM generate_series(64, 1, -1) g),
    cum = ARRAY(SELECT g::bigint FROM generate_series(1, 64) g);
EOF
}

claim_plan() {	# the plans inside claim_due, by auto_explain
	local t
	t=$(at_minutes 0)
	psql -X -q -d "$DATABASE_URL" >"$BENCH_DIR/claim.plan" 2>&1 <<EOF
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
BEGIN;
SELECT count(*) FROM drip.claim_due('bench', '$t', 100, '5 minutes');
ROLLBACK;
EOF
	# The statement that finds the candidate steps and their mailboxes.
	awk '/^LOG: +duration:/ { p = 0 } /Query Text: WITH cand AS/ { p = 1 } p' \
		"$BENCH_DIR/claim.plan" >"$BENCH_DIR/claim.mailboxes.plan"
	say '    the plan of its "candidates and their mailboxes" statement (auto_explain, ANALYZE, BUFFERS):'
	while IFS= read -r l; do say '      %s' "$l"; done <"$BENCH_DIR/claim.mailboxes.plan"
	if grep -q 'email_campaign_prospect_step_due' "$BENCH_DIR/claim.mailboxes.plan"; then
		say '    it uses the partial index email_campaign_prospect_step_due'
	else
		say '    it does NOT use the partial index email_campaign_prospect_step_due'
	fi
}

# ---- the run --------------------------------------------------------------
say '# drip send benchmark, %s, %s, %s cores, %s' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	"$(uname -n)" "$(nproc)" "$(git -C "$bench_top" describe --always --dirty 2>/dev/null || echo '?')"
say '# binaries: %s' "$O"
[ -z "$WRAP" ] || say '# send-due runs under: %s (its figures are the profiler'"'"'s, not comparable)' "$WRAP"
say '# PostgreSQL %s (%s), mock-graph on python %s, load %s' \
	"$(pg_bindir >/dev/null; "$(pg_bindir)/postgres" --version | awk '{print $3}')" \
	"$([ -n "${BENCH_DURABLE:-}" ] && echo 'fsync on' || echo 'fsync off, as the tests run it')" \
	"$(python3 -c 'import sys; print(sys.version.split()[0])')" "$(cut -d' ' -f1-3 /proc/loadavg)"
bench_setup
say '# shared memory %s; a first touch of a 4 kB page: %s us' "$(server_pages)" "$(fault_us)"
t=$(date +%s)
connect_mailboxes "$MAILBOXES"
say '# %d mailboxes connected with outlook-auth in %d s; rate limits lifted' "$MAILBOXES" $(($(date +%s) - t))

# Addresses the suppression check must look at, none of them ours.
psql_q >/dev/null <<'EOF'
INSERT INTO drip.suppression_entry (customer_id, value, kind)
SELECT 'acme', 'x' || g || '@blocked' || (g % 50) || '.example', 'address' FROM generate_series(1, 10000) g;
INSERT INTO drip.suppression_entry (customer_id, value, kind)
SELECT 'acme', 'blocked' || g || '.example', 'domain' FROM generate_series(1, 1000) g;
EOF

RAW_RATE=
if want raw; then
	say ''
	say '== the mock alone: wrk -t1 -c%d, draft + send, no database (%d s each)' "$CONC" "$RAW_SECONDS"
	raw_mock "before, keep-alive (as drip)"
	RAW_BEFORE=$RAW_RATE
	raw_mock "before, a new connection for each send" close
	RAW_BEFORE_CLOSE=$RAW_RATE
fi

if want zero; then
	say ''
	say '== send-due, zero-latency mock: %d steps over %d mailboxes, --concurrency %d --batch %d' \
		"$STEPS" "$MAILBOXES" "$CONC" "$BATCH"
	rates= ratios=
	[ -z "$AGAINST" ] || say '  in pairs: first %s (%s), then this build' "$AGAINST" \
		"$(git -C "$AGAINST/.." describe --always --dirty 2>/dev/null || echo '?')"
	for i in $(seq "$REPEAT"); do
		if [ -n "$AGAINST" ]; then
			drip_run "zero${i}a" "$STEPS" "$CONC" "$AGAINST/bin/send-due"
			drip_line "run $i, against"
			against=$R_RATE
		fi
		drip_run "zero$i" "$STEPS" "$CONC"
		drip_line "run $i"
		rates="$rates $R_RATE"
		[ -z "$AGAINST" ] || ratios="$ratios $(calc "$R_RATE / $against")"
		[ "$i" = 1 ] && pgss_lines zero1
	done
	# shellcheck disable=SC2086
	[ -z "$AGAINST" ] || say '  this build / against, pair by pair:%s; median %.3f' \
		"$(printf ' %.3f' $ratios)" "$(median $ratios)"
	# shellcheck disable=SC2086
	ZERO_MEDIAN=$(median $rates)
	say '  median of %d: %d sends/s (goal: at least 2000)' "$REPEAT" "$(fmt "$ZERO_MEDIAN")"
	if want raw; then
		raw_mock "after, keep-alive (as drip)"
		RAW_MEDIAN=$(median "$RAW_BEFORE" "$RAW_RATE")
		raw_mock "after, a new connection for each send" close
		RAW_MEDIAN_CLOSE=$(median "$RAW_BEFORE_CLOSE" "$RAW_RATE")
		say '  send-due / the mock alone (mean of before and after): %.2f of its keep-alive rate, %.2f of its rate with a new connection per send' \
			"$(calc "$ZERO_MEDIAN / $RAW_MEDIAN")" "$(calc "$ZERO_MEDIAN / $RAW_MEDIAN_CLOSE")"
	fi
fi

if want tls; then
	say ''
	say '== send-due through a TLS front (nghttpx before the mock, as Graph answers), in pairs with the mock straight: %d steps, --concurrency %d --batch %d' \
		"$STEPS" "$CONC" "$BATCH"
	mock_tls_start || die "the TLS front did not start"
	rate_ratios= cpu_ratios=
	for i in $(seq "$REPEAT"); do
		export DRIP_GRAPH_URL=$MOCK_URL/v1.0 DRIP_LOGIN_URL=$MOCK_URL
		drip_run "plain$i" "$STEPS" "$CONC"
		drip_line "pair $i, straight"
		plain_rate=$R_RATE plain_cpu=$R_CPU_SD
		export DRIP_GRAPH_URL=$MOCK_TLS_URL/v1.0 DRIP_LOGIN_URL=$MOCK_TLS_URL
		: >"$MOCK_TLS_LOG"
		h0=$(pid_ticks "$MOCK_TLS_PID")
		drip_run "tls$i" "$STEPS" "$CONC"
		h1=$(pid_ticks "$MOCK_TLS_PID")
		drip_line "pair $i, TLS"
		say '    nghttpx CPU s per 1000 sends %.3f; %d requests over %d connections' \
			"$(calc "($h1 - $h0) / $HZ * 1000 / $R_SENT")" "$(wc -l <"$MOCK_TLS_LOG")" \
			"$(awk '{print $2}' "$MOCK_TLS_LOG" | sort -u | wc -l)"
		rate_ratios="$rate_ratios $(calc "$R_RATE / $plain_rate")"
		cpu_ratios="$cpu_ratios $(calc "$R_CPU_SD / $plain_cpu")"
	done
	mock_tls_stop
	export DRIP_GRAPH_URL=$MOCK_URL/v1.0 DRIP_LOGIN_URL=$MOCK_URL
	# shellcheck disable=SC2086
	say '  TLS / straight, pair by pair: sends/s%s (median %.3f); send-due CPU per send%s (median %.3f)' \
		"$(printf ' %.3f' $rate_ratios)" "$(median $rate_ratios)" \
		"$(printf ' %.3f' $cpu_ratios)" "$(median $cpu_ratios)"
fi

if want latency; then
	say ''
	say '== send-due, mock with %d ms per request: %d steps, --concurrency %d --batch %d (mailbox_concurrency 4)' \
		"$LAT_MS" "$LAT_STEPS" "$LAT_CONC" "$BATCH"
	mock_ctl POST /_mock/faults "{\"latency_ms\":$LAT_MS}" >/dev/null
	drip_run latency "$LAT_STEPS" "$LAT_CONC"
	mock_ctl POST /_mock/faults '{}' >/dev/null
	drip_line "run"
	LAT_RATE=$R_RATE
	say '  deferred (429 from the mailbox limit): %s; goal: at least 500 sends/s' "$(jq .deferred "$BENCH_DIR/latency")"
fi

if want peer; then
	peer_setup	# first: on a fresh clone it installs the version printed below
	say ''
	say '== the peer: graphile-worker %s on node %s, one job per step (tests/bench/peer/worker.js)' \
		"$(jq -r .version "$peer_dir/node_modules/graphile-worker/package.json" 2>/dev/null || echo '?')" "$(node --version)"
	if want zero; then
		peer_run peer.zero "$STEPS" "$CONC"
		peer_line "zero latency, concurrency $CONC"
		say '  drip / peer: %.2f (drip median %d sends/s; goal: at least 3)' \
			"$(calc "$ZERO_MEDIAN / $P_RATE")" "$(fmt "$ZERO_MEDIAN")"
	fi
	if want latency; then
		mock_ctl POST /_mock/faults "{\"latency_ms\":$LAT_MS}" >/dev/null
		peer_run peer.latency "$LAT_STEPS" "$LAT_CONC"
		mock_ctl POST /_mock/faults '{}' >/dev/null
		peer_line "$LAT_MS ms latency, concurrency $LAT_CONC"
		say '  drip / peer: %.2f' "$(calc "$LAT_RATE / $P_RATE")"
	fi
fi

if want memory; then
	say ''
	say '== send-due peak memory: %d steps, zero latency, --concurrency %d --batch %d' "$BIG" "$CONC" "$BATCH"
	drip_run memory "$BIG" "$CONC"
	drip_line "run"
	say '  maximum resident set size: %.1f MiB (goal: at most 32 MiB)' "$(calc "$R_RSS / 1024")"
fi

if want claim; then
	say ''
	say '== claim cost with %d future steps in the table' "$FUTURE"
	t=$(date +%s)
	seed future "$FUTURE" "$(at_minutes $((7 * 24 * 60)))"
	say '  (%d future steps seeded in %d s; %d steps in the table)' "$FUTURE" $(($(date +%s) - t)) \
		"$(psql_q -c 'SELECT count(*) FROM drip.email_campaign_prospect_step')"
	seed claim1k "$MAILBOXES" "$(at_minutes -60)"
	vacuum_steps
	claim_cost "$MAILBOXES due (one per mailbox)"
	claim_plan
	seed claim20k "$STEPS" "$(at_minutes -60)"
	vacuum_steps
	claim_cost "$((MAILBOXES + STEPS)) due"
	fill_ledgers "$(at_minutes 0)"
	vacuum_steps
	claim_cost "$((MAILBOXES + STEPS)) due, every ledger full"
	say '  goal: at most 5 ms'
	if [ -n "$CLAIM_AGAINST" ]; then
		say '  side by side with the claim of %s (tests/bench/claim-pairs.sh):' "$CLAIM_AGAINST"
		"$bench_top/tests/bench/claim-pairs.sh" "$CLAIM_AGAINST" HEAD "$(at_minutes 0)" |
			while IFS= read -r l; do say '    %s' "$l"; done
	fi
	t=$(date +%s.%N)
	DRIP_NOW=$(at_minutes 0) send-due --dry-run --batch 100 >/dev/null || die "send-due --dry-run failed"
	say '  send-due --dry-run --batch 100, the whole process (connect, claim, load, render, roll back): %.0f ms' \
		"$(calc "($(date +%s.%N) - $t) * 1000")"
fi
