#!/bin/sh
# make demo: a real campaign end to end, on a throwaway PostgreSQL and the
# loopback Graph mock, everything under .drip/ in the checkout. Run it again
# and it starts afresh; make demo-stop (demo.sh stop) stops what it left.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
state=$top/.drip
export PATH="$O/bin:$PATH"
ex=$top/examples

. "$top/tests/pg.sh"

step() { printf '\n== %s\n' "$*" >&2; }
say() { printf '   %s\n' "$*" >&2; }

stop() {
	if [ -f "$state/pg.env" ]; then
		. "$state/pg.env"
		pg_stop
	fi
	if [ -f "$state/mock.pid" ]; then
		kill "$(cat "$state/mock.pid")" 2>/dev/null || true
	fi
	rm -rf "$state"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi

stop
mkdir -p "$state"
trap 'stop' EXIT
trap 'exit 130' INT TERM
t0=$(date +%s)

step "1/10 a throwaway PostgreSQL under .drip/ (Unix socket only)"
pg_start "$state/pg"
printf 'PG_DIR=%s\nPG_BIN=%s\n' "$PG_DIR" "$PG_BIN" >"$state/pg.env"
psql -X -q -d "$PG_ADMIN_URL" -c 'CREATE DATABASE drip_demo'
export DATABASE_URL="host=$PG_DIR user=postgres dbname=drip_demo"
db-migrate -q
say "schema drip at version $(db-migrate --status | jq .version)"

step "2/10 the loopback Microsoft Graph mock (demo mode: it approves sign-ins itself)"
mkdir -p "$state/mock"
python3 "$top/tests/mock-graph/mock-graph" --port-file "$state/mock/port" \
	--sent-log "$state/mock/sent.log" --interval 0 \
	--auto-approve sales@acme.example 2>"$state/mock/stderr" &
echo $! >"$state/mock.pid"
for i in $(seq 100); do [ -s "$state/mock/port" ] && break; sleep 0.1; done
mock=http://127.0.0.1:$(cat "$state/mock/port")
export DRIP_LOGIN_URL=$mock DRIP_GRAPH_URL=$mock/v1.0
export DRIP_CLIENT_ID=00000000-0000-0000-0000-0000000de770
export DRIP_KEY_FILE=$state/drip.key
(umask 077 && head -c 32 /dev/urandom >"$DRIP_KEY_FILE")
say "Graph at $DRIP_GRAPH_URL; a real mailbox needs your own DRIP_CLIENT_ID"
say "and no DRIP_GRAPH_URL / DRIP_LOGIN_URL (see README: Going to production)"

step "3/10 outlook-auth: connect sales@acme.example (device code)"
outlook-auth --customer acme 2>/dev/null | jq -c '{id, email, status}'
echo '{"rate_per_minute": 600, "daily_cap": 1000}' | outlook-auth --update 1 >/dev/null
say "rate lifted to 600/min and 1000/day for the demo (defaults: 30 and 50)"

step "4/10 suppress: the customer never mails a competitor's domain"
suppress add --customer acme --reason competitor competitor.example | jq -c '{value, kind, reason}'

step "5/10 campaign-create < examples/campaign.json"
campaign-create <"$ex/campaign.json" | jq -c '{id, name, status, steps: [.templates[].step]}'

step "6/10 prospect-import --csv --skip-invalid < examples/prospects.csv"
prospect-import --campaign 1 --csv --skip-invalid --rejects "$state/rejects.csv" \
	<"$ex/prospects.csv" 2>"$state/import.err" | jq -c .
say "$(wc -l <"$state/import.err") rows rejected (see .drip/import.err, .drip/rejects.csv)"

step "7/10 suppress add after the import: that address is skipped at send time"
victim=$(psql -X -At -d "$DATABASE_URL" -c "SELECT email FROM drip.email_campaign_prospect WHERE status = 'active' ORDER BY id LIMIT 1 OFFSET 3")
suppress add --customer acme --reason 'asked by phone' "$victim" | jq -c '{value, reason}'

# Monday 30 November 2026, 16:00 in Berlin: inside the window for Europe
# and the Americas, not for prospects in Tokyo (their evening).
export DRIP_NOW=2026-11-30T15:00:00Z
step "8/10 send-due at $DRIP_NOW (the clock pinned with DRIP_NOW)"
ENABLE_EMAIL_SCHEDULER=true send-due -q | jq -c .
say "the mock delivered $(wc -l <"$state/mock/sent.log") messages"

step "9/10 a reply and a bounce arrive; inbox-sync reads the Inbox"
sent() { jq -r "select(.to[0] == \"$1\") | .internetMessageId" "$state/mock/sent.log" | head -n 1; }
a=$(jq -r '.to[0]' "$state/mock/sent.log" | sed -n 2p)
b=$(jq -r '.to[0]' "$state/mock/sent.log" | sed -n 5p)
curl -sf -X POST "$mock/_mock/users/sales@acme.example/inbox" -H 'Content-Type: application/json' \
	-d "{\"kind\":\"reply\",\"in_reply_to\":\"$(sent "$a")\",\"from\":\"$a\",\"body\":\"Sounds interesting, call me Tuesday.\"}" >/dev/null
curl -sf -X POST "$mock/_mock/users/sales@acme.example/inbox" -H 'Content-Type: application/json' \
	-d "{\"kind\":\"ndr\",\"in_reply_to\":\"$(sent "$b")\",\"from\":\"$b\",\"status\":\"5.1.1\"}" >/dev/null
inbox-sync | jq -c .
say "$a replied; $b bounced and is now suppressed"

export DRIP_NOW=2026-12-03T15:00:00Z
step "10/10 three days later: the follow-up, in the same thread, to those still active"
ENABLE_EMAIL_SCHEDULER=true send-due -q | jq -c .

step "report: events | jq"
events --campaign 1 | jq -rs '
	group_by(.step) | map({step: .[0].step,
	    sent: map(select(.type == "sent")) | length,
	    suppressed: map(select(.type == "suppressed")) | length,
	    replied: map(select(.type == "replied")) | length,
	    bounced: map(select(.type == "bounced")) | length,
	    failed: map(select(.type == "failed")) | length}) |
	(["step", "sent", "suppressed", "replied", "bounced", "failed"] | @tsv),
	(.[] | [(.step // "-"), .sent, .suppressed, .replied, .bounced, .failed] | @tsv)' |
	column -t >&2
say "finished in $(( $(date +%s) - t0 )) s; everything it started is stopped now"
