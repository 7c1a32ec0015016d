#!/bin/bash
# events prints email_event rows as JSON Lines, oldest first, filtered by
# customer, campaign, type and time; --follow prints what exists, then each
# event another process commits, exactly once: none lost and none doubled
# around the first read, including one whose transaction was open across it.
. "$(dirname "$0")/lib.sh"
plan 31
db_fresh

sql "
INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'sales@acme.example'), ('beta', 'x@beta.example');
INSERT INTO drip.email_campaign (customer_id, identity_id, name, status) VALUES
	('acme', 1, 'one', 'running'), ('acme', 1, 'two', 'running'), ('beta', 2, 'three', 'running');
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text)
	SELECT customer_id, id, 1, 's', 'b' FROM drip.email_campaign;
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES
	('acme', 1, 'ann@example.com'), ('acme', 2, 'bob@example.com'), ('beta', 3, 'cy@example.org');
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at, status)
	SELECT customer_id, campaign_id, id, 1, '2026-11-30T09:00:00Z', 'sent' FROM drip.email_campaign_prospect;
INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id, step_id, identity_id,
	graph_message_id, internet_message_id, detail, created_at) VALUES
	('acme', 'sent', 1, 1, 1, 1, 'AAMk1', '<m1@x>', '{\"step\": 1}', '2026-11-30T09:00:00Z'),
	('acme', 'sent', 2, 2, 2, 1, 'AAMk2', '<m2@x>', NULL, '2026-11-30T09:01:00Z'),
	('beta', 'sent', 3, 3, 3, 2, 'AAMk3', '<m3@x>', NULL, '2026-11-30T09:02:00Z'),
	('acme', 'replied', 1, 1, 1, 1, 'AAMk1', '<m1@x>', '{\"from\": \"ann@example.com\"}', '2026-12-01T08:00:00Z'),
	('acme', 'bounced', 2, 2, 2, 1, 'AAMk2', '<m2@x>', NULL, '2026-12-01T09:30:00+01:00');
UPDATE drip.email_event SET inbound_message_id = '<r1@example.com>', reason = NULL WHERE type = 'replied';
UPDATE drip.email_event SET reason = '5.1.1' WHERE type = 'bounced';
" >/dev/null

ids() { printf '%s\n' "$out" | jq -r .id | tr '\n' ' '; }

run events
is "$rc $(ids)" '0 1 2 3 4 5 ' 'every event of every customer, oldest first'
is "$(printf '%s\n' "$out" | sed -n 4p)" \
	'{"id":4,"type":"replied","created_at":"2026-12-01T08:00:00Z","customer_id":"acme","campaign_id":1,"prospect_id":1,"email":"ann@example.com","step_id":1,"step":1,"identity_id":1,"reason":null,"graph_message_id":"AAMk1","internet_message_id":"<m1@x>","inbound_message_id":"<r1@example.com>","detail":{"from":"ann@example.com"}}' \
	'a line carries the prospect'"'"'s address, the step, the message ids, every field (null when empty)'
is "$(printf '%s\n' "$out" | jq -r .created_at | sed -n 5p)" '2026-12-01T08:30:00Z' 'times are RFC 3339 in UTC'
is "$(printf '%s\n' "$out" | jq -c . | wc -l)" 5 'standard output is JSON, one object per line'

run events -c acme
is "$(ids)" '1 2 4 5 ' '--customer: that customer only'
run events --campaign 2
is "$(ids)" '2 5 ' '--campaign: that campaign only'
run events -c acme --campaign 1 -t replied
is "$(ids)" '4 ' 'filters combine'
run events -t sent -t bounced
is "$(ids)" '1 2 3 5 ' '--type repeated'
run events --type replied,bounced
is "$(ids)" '4 5 ' '--type with commas'
run events -s 2026-12-01T08:30:00Z
is "$(ids)" '5 ' '--since: at or after the time (the same instant written in UTC)'
run events --since 2026-12-01T09:00:00+01:00
is "$(ids)" '4 5 ' '--since with an offset'
run events -s 2026-12-01
is "$(ids)" '4 5 ' '--since with a date: its midnight UTC'
run events -c nobody
is "$rc:$out" '0:' 'nothing to print: no output, exit 0'

must_fail 64 'an unknown type is a usage error' events -t opened
like "$err" "unknown event type 'opened'" 'and says which'
must_fail 64 'a time that is not RFC 3339 is a usage error' events -s yesterday
must_fail 64 'a stray argument is a usage error' events acme
must_fail 66 'a campaign that does not exist: 66' events --campaign 99
must_fail 77 'a campaign of another customer: 77' events -c beta --campaign 1

# --- follow ------------------------------------------------------------------

# A psql session that keeps its transaction open between calls.
sess_open() {	# NAME
	mkfifo "$T/$1.in"
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL" <"$T/$1.in" >"$T/$1.out" 2>&1 &
	eval "exec {${1}_fd}>\"$T/$1.in\""
	at_exit "kill $! 2>/dev/null"
}
_mark=0
sess() {	# NAME SQL: run SQL in the session and wait until it is done
	local fd
	eval "fd=\$${1}_fd"
	_mark=$((_mark + 1))
	printf '%s\n\\echo mark-%s\n' "$2" "$_mark" >&"$fd"
	wait_for "$T/$1.out" "^mark-$_mark\$"
}
sess_send() {	# NAME SQL: send SQL to the session, do not wait ($_sent: its mark)
	local fd
	eval "fd=\$${1}_fd"
	_mark=$((_mark + 1))
	_sent=$_mark
	printf '%s\n\\echo mark-%s\n' "$2" "$_mark" >&"$fd"
}
wait_for() {	# FILE REGEX: up to 10 s until a line of FILE matches
	for _ in $(seq 200); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	diag "timed out waiting for /$2/ in $1:"
	sed 's/^/#   /' "$1" | tail -5
	return 1
}
follow_start() {	# ARGS...: events -f -v in the background
	: >"$T/f.out"
	: >"$T/f.err"
	events -f -v "$@" >"$T/f.out" 2>"$T/f.err" &
	fpid=$!
	at_exit "kill $fpid 2>/dev/null"
}
follow_stop() {	# SIGNAL: stop it; $frc its exit status
	kill -"$1" "$fpid"
	wait "$fpid"
	frc=$?
}
event() {	# TYPE [CAMPAIGN]: an event committed now by psql; prints its id
	sql "INSERT INTO drip.email_event (customer_id, type, campaign_id) VALUES
		(CASE WHEN ${2:-1} = 3 THEN 'beta' ELSE 'acme' END, '$1', ${2:-1}) RETURNING id"
}
count_id() { jq -r .id "$T/f.out" | grep -cx "$1"; }

follow_start -c acme
wait_for "$T/f.err" 'following'
is "$(jq -r .id "$T/f.out" | tr '\n' ' ')" '1 2 4 5 ' '--follow first prints what exists'
new=$(event replied)
other=$(event replied 3)
last=$(event sent 2)
wait_for "$T/f.out" "\"id\":$last,"
is "$(jq -r .id "$T/f.out" | tr '\n' ' ')" "1 2 4 5 $new $last " \
	'then each event another process commits, as it commits, and only those that match'
follow_stop INT
is "$frc" 0 'SIGINT ends it with exit 0'

follow_start -t unsubscribed
wait_for "$T/f.err" '0 events; following'
x=$(event unsubscribed)
wait_for "$T/f.out" "\"id\":$x,"
follow_stop TERM
is "$frc $(count_id "$x")" '0 1' 'SIGTERM ends it with exit 0 too; the new event came once'

# Committed after LISTEN, before the first read: in the read and notified.
# The read is made to wait in between: a session that inserted an event
# (and so holds a share lock on the step table) makes a LOCK TABLE queue
# behind it, and the read queues behind that.
sess_open writer
sess_open locker
sess writer "BEGIN; INSERT INTO drip.email_event (customer_id, type, campaign_id) VALUES ('acme', 'deferred', 1);"
waiting() {	# LIKE: a query of that text waits for a lock
	for _ in $(seq 200); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '$1'")" = 1 ] && return 0
		sleep 0.05
	done
	return 1
}
sess_send locker 'BEGIN; LOCK TABLE drip.email_campaign_prospect_step IN ACCESS EXCLUSIVE MODE;'
# (the read would go through if it came before the LOCK TABLE queued)
waiting 'LOCK TABLE%' || echo "# the LOCK TABLE did not queue"
follow_start -t deferred
ok 'events listens, then its first read waits' waiting 'SELECT e.id, json_build_object(%'
sess writer 'COMMIT;'
between=$(sql "SELECT max(id) FROM drip.email_event WHERE type = 'deferred'")
wait_for "$T/locker.out" "^mark-$_sent\$"
sess locker 'COMMIT;'
wait_for "$T/f.err" 'following'
is "$(jq -r .id "$T/f.out" | tr '\n' ' ')" "$between " 'the first read has the event committed after LISTEN'
after=$(event deferred)
wait_for "$T/f.out" "\"id\":$after,"
is "$(count_id "$between") $(count_id "$after")" '1 1' \
	'its notification does not print it again; the next event comes once'
follow_stop INT

# A transaction that took its id before the first read and commits after:
# a later id is already printed, the earlier one must still come.
sess_open slow
sess slow "BEGIN; INSERT INTO drip.email_event (customer_id, type, campaign_id) VALUES ('acme', 'failed', 1);"
late=$(event failed)
follow_start -t failed
wait_for "$T/f.err" 'following'
is "$(jq -r .id "$T/f.out" | tr '\n' ' ')" "$late " 'the first read has the committed event, not the open one'
sess slow 'COMMIT;'
early=$(sql "SELECT max(id) FROM drip.email_event WHERE type = 'failed' AND id < $late")
wait_for "$T/f.out" "\"id\":$early,"
is "$(jq -r .id "$T/f.out" | tr '\n' ' ')" "$late $early " \
	'an event with a lower id committed later still comes, once'
follow_stop INT

# Many events in one transaction arrive together, in order, once each.
follow_start -c acme -t sent
wait_for "$T/f.err" 'following'
sql "INSERT INTO drip.email_event (customer_id, type, campaign_id)
	SELECT 'acme', 'sent', 1 FROM generate_series(1, 1500)" >/dev/null
want=$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM drip.email_event WHERE customer_id = 'acme' AND type = 'sent'")
big=$(sql "SELECT max(id) FROM drip.email_event")
wait_for "$T/f.out" "\"id\":$big,"
follow_stop INT
is "$(jq -r .id "$T/f.out" | tr '\n' ' ' | sed 's/ $//')" "$want" \
	'1500 events of one commit (more than one batch of notifications) come in order, once each'

# Without --follow nothing is left behind listening.
run events -c acme -t replied
is "$(rows email_event "type = 'replied' AND customer_id = 'acme'") $(printf '%s\n' "$out" | wc -l)" '2 2' \
	'a plain run prints and exits'
like "$(events --help)" '^usage: events ' '--help prints the usage on standard output'
