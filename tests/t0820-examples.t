#!/bin/bash
# The scripts in examples/ do what they say, against a throwaway database
# and the Graph mock; the systemd units pass systemd-analyze verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-send.sh"
plan 11
db_fresh --empty
send_env --auto-approve sales@acme.example
ex=$DRIP_TOP/examples
cd "$T"

run sh "$ex/quickstart.sh"
is "$rc" 0 'quickstart.sh runs'
is "$(campaign-show 1 | jq -c '[.status, .counts.prospects.active > 250]')" '["running",true]' \
	'and leaves a running campaign with its prospects'

# ci-import.sh: a mostly good file passes, a mostly bad one fails the pipeline
make_campaign 1 0 '{"status": "draft"}'
c=$CID
run sh "$ex/ci-import.sh" "$c" "$ex/prospects.csv" 5
is "$rc" 0 'ci-import.sh passes a file with a few invalid rows'
printf 'email,first_name\nok@fine.example,Ok\nbad,Bad\nworse@,Worse\n' >"$T/bad.csv"
REJECTS=$T/rejects.csv run sh "$ex/ci-import.sh" "$c" "$T/bad.csv" 5
is "$rc" 1 'ci-import.sh fails the pipeline when too many rows are invalid'
is "$(tail -n +2 "$T/rejects.csv" | tr '\n' ' ')" 'bad,Bad worse@,Worse ' 'and keeps the rejected lines to fix'

# pause-bouncing.sh: a campaign that bounced too much is paused
make_campaign 1 4 '{"templates": [{"subject": "Hello", "body_text": "Hi"},
	{"subject": "Re: Hello", "body_text": "Again", "delay_days": 3, "thread": "reply"}]}'
c=$CID
faults "{\"invalid_recipients\": [\"p0@k$K.example\", \"p1@k$K.example\"]}"
sql "UPDATE drip.email_identity SET rate_per_minute = 1000, daily_cap = 1000" >/dev/null
send >/dev/null 2>&1
faults '{}'
run sh "$ex/pause-bouncing.sh" 5
is "$(campaign-show "$c" | jq -r .status)" paused 'pause-bouncing.sh pauses the campaign that bounced 2 of 4'
is "$(campaign-show 1 | jq -r .status)" running 'and leaves the others running'

# export-events.sh: twice in a row exports each event once
run sh "$ex/export-events.sh" "$T/export"
is "$rc" 0 'export-events.sh runs'
sh "$ex/export-events.sh" "$T/export" 2>/dev/null
is "$(zcat "$T"/export/*.gz | jq -r .id | sort -n | uniq | wc -l):$(zcat "$T"/export/*.gz | wc -l)" \
	"$(rows email_event):$(rows email_event)" 'a second run the same night repeats nothing'

# systemd units
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/units"
	for u in "$ex"/systemd/*; do
		sed "s|/usr/local/bin/|$DRIP_BUILD/bin/|" "$u" >"$T/units/${u##*/}"
	done
	run systemd-analyze verify --man=no "$T"/units/*
	is "$rc:$err" '0:' 'systemd-analyze verify finds nothing wrong with the units'
	grep -q '^ExecStart=.*send-due --max-seconds 50$' "$ex/systemd/drip-send-due.service" &&
	grep -q '^OnCalendar=minutely$' "$ex/systemd/drip-send-due.timer"
	is "$?" 0 'send-due runs every minute and stops claiming after 50 seconds'
else
	ok '# SKIP systemd-analyze not installed' true
	ok '# SKIP systemd-analyze not installed' true
fi
