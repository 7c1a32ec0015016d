#!/bin/bash
# bench-inbox.sh [N]: what inbox-sync and events cost.
#
# One mailbox (connected through outlook-auth's device flow against the
# Graph mock) that sent step 1 to N prospects (default 2,000; rows made with
# SQL), and N answers in its Inbox (one in ten an opt-out, every one quoting
# an original that says "unsubscribe"), injected through the mock's control
# API on one kept-alive connection. Then:
#
#   - inbox-sync reading them all (N/50 delta pages): wall time, messages
#     per second, CPU, peak memory; a second run (nothing new), and a run
#     after the delta link was invalidated (everything read again, nothing
#     recorded twice);
#   - events printing 100 x N rows to /dev/null: time and peak memory (rows
#     are streamed, so memory should not grow with N);
#   - events --follow: from a commit by another process to the line on its
#     standard output, 50 times.
#
# Not part of make check. A throwaway PostgreSQL (tests/pg.sh, fsync off as
# in the tests) and mock in a temporary folder.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
export PATH="$O/bin:$PATH" LC_ALL=C.UTF-8
unset DATABASE_URL DRIP_NOW ENABLE_EMAIL_SCHEDULER
n=${1:-2000}
work=$(mktemp -d "${TMPDIR:-/tmp}/drip-bench.XXXXXX")
chmod 755 "$work"

. "$top/tests/pg.sh"
. "$top/tests/mock-graph/mock.sh"
cleanup() {
	[ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null
	mock_stop >/dev/null 2>&1
	pg_stop
	rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$work/pg" >/dev/null
psql -X -q -d "$PG_ADMIN_URL" -c 'CREATE DATABASE bench'
export DATABASE_URL="$PG_ADMIN_URL dbname=bench"
db-migrate -q
MOCK_DIR=$work/mock
mkdir -p "$MOCK_DIR"
mock_start --auto-approve sales@acme.example --interval 0
export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000d41b DRIP_KEY_FILE=$work/drip.key
head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
chmod 600 "$DRIP_KEY_FILE"
me=$(outlook-auth -q --customer acme 2>/dev/null | jq -r .id)

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
q -c "
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status) VALUES ('acme', $me, 'bench', 'running');
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	VALUES ('acme', 1, 1, 'Hello', 'Hi. Reply STOP to unsubscribe.'), ('acme', 1, 2, 'Re: Hello', 'Again');
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email)
	SELECT 'acme', 1, 'p' || i || '@bench.example' FROM generate_series(1, $n) i;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at, status, sent_at)
	SELECT 'acme', 1, id, 1, now() - interval '1 day', 'sent', now() - interval '1 day'
	FROM drip.email_campaign_prospect;
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at)
	SELECT 'acme', 1, id, 2, now() + interval '2 days' FROM drip.email_campaign_prospect;
INSERT INTO drip.email_message_metadata (customer_id, campaign_id, prospect_id, step_id,
	identity_id, graph_message_id, internet_message_id, conversation_id, sent_at)
	SELECT 'acme', 1, s.prospect_id, s.id, $me, 'g' || s.id, '<m' || s.prospect_id || '@acme.example>',
	       'conv' || s.prospect_id, now() - interval '1 day'
	FROM drip.email_campaign_prospect_step s WHERE s.step = 1;
ANALYZE;" >/dev/null

t0=$(date +%s.%N)
python3 - "$MOCK_URL" "$n" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(1, int(sys.argv[2]) + 1):
    said = "Please unsubscribe me." if i % 10 == 0 else "Sounds good, let us talk on Tuesday."
    m = {"subject": "RE: Hello", "from": {"emailAddress": {"address": "p%d@bench.example" % i}},
         "body": {"contentType": "html", "content": "<p>%s</p><div id=\"appendonsend\"></div><hr>"
                  "<b>From:</b> sales@acme.example<br><b>Sent:</b> Monday<br>Hi. Reply STOP to unsubscribe." % said},
         "conversationId": "conv%d" % i,
         "internetMessageHeaders": [{"name": "In-Reply-To", "value": "<m%d@acme.example>" % i}]}
    c.request("POST", "/_mock/users/sales@acme.example/inbox", json.dumps(m),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("inject: %d" % r.status)
PY
echo "bench-inbox: $n answers injected in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s
"

run() {	# LABEL ARGS...: inbox-sync under /usr/bin/time
	label=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" inbox-sync -q "$@" >"$work/out"
	read -r wall user sys rss <"$work/time"
	msgs=$(jq .messages "$work/out")
	printf '%-34s %6.2f s wall, %5.2f s CPU, %6d KB peak, %5s messages (%s/s) %s\n' "$label" "$wall" \
	    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$rss" "$msgs" \
	    "$(awk -v m="$msgs" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? m / w : 0) }')" \
	    "$(jq -c '{replied, unsubscribed, duplicates}' "$work/out")"
}
run "inbox-sync, everything new:"
echo "  recorded: $(q -c "SELECT count(*) FROM drip.email_event WHERE inbound_message_id IS NOT NULL") events, $(q -c "SELECT count(*) FROM drip.email_campaign_prospect_step WHERE status = 'skipped'") steps skipped, $(q -c "SELECT count(*) FROM drip.suppression_entry") suppressed"
run "inbox-sync, nothing new:"
mock_ctl POST /_mock/delta/invalidate '{}' >/dev/null
run "inbox-sync after a 410 (all again):"

q -c "INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id, step_id, identity_id,
	graph_message_id, internet_message_id, detail)
	SELECT 'acme', 'sent', 1, s.prospect_id, s.id, $me, 'g' || s.id, '<m' || s.prospect_id || '@acme.example>',
	       jsonb_build_object('step', 1) FROM drip.email_campaign_prospect_step s, generate_series(1, 100) g
	WHERE s.step = 1; ANALYZE drip.email_event;" >/dev/null
rows=$(q -c "SELECT count(*) FROM drip.email_event")
/usr/bin/time -f '%e %M' -o "$work/time" events >/dev/null
read -r wall rss <"$work/time"
printf 'events, %d rows to /dev/null:     %6.2f s, %.0f rows/s, %d KB peak\n' "$rows" "$wall" \
    "$(awk -v r="$rows" -v w="$wall" 'BEGIN { print (w > 0 ? r / w : 0) }')" "$rss"
/usr/bin/time -f '%e %M' -o "$work/time" events -c acme -t replied >/dev/null
read -r wall rss <"$work/time"
printf 'events -t replied (of %d rows):     %6.2f s, %d KB peak\n' "$rows" "$wall" "$rss"

events -f -v -t deferred >"$work/f.out" 2>"$work/f.err" &
fpid=$!
for _ in $(seq 200); do grep -q following "$work/f.err" && break; sleep 0.05; done
python3 - "$DATABASE_URL" "$work/f.out" <<'PY'
import subprocess, sys, time
db, out = sys.argv[1], sys.argv[2]
lat, own = [], []
with open(out) as f:
    for i in range(50):
        t0 = time.monotonic()
        subprocess.run(["psql", "-X", "-q", "-d", db, "-c",
                        "INSERT INTO drip.email_event (customer_id, type) VALUES ('acme', 'deferred')"],
                       check=True)
        t1 = time.monotonic()	# psql has committed and exited
        while not f.readline():
            time.sleep(0.0002)
        t2 = time.monotonic()
        lat.append((t2 - t0) * 1000)
        own.append((t1 - t0) * 1000)
lat.sort()
own.sort()
print("events --follow: psql INSERT started to line printed: median %.1f ms, p90 %.1f ms, max %.1f ms;"
      " psql alone (start, commit, exit): median %.1f ms (50 commits)"
      % (lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1], own[len(own) // 2]))
PY
kill -INT "$fpid"
wait "$fpid"
fpid=
