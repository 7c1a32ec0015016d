#!/bin/sh
# drip.next_in_window, the send-window arithmetic every scheduled step goes
# through, as a table of cases: weekends, a window that ends at 17:00 or at
# 24:00, time zones with odd offsets, both daylight-saving changes, and a
# window that falls into the hour that a spring-forward skips.
. "$(dirname "$0")/lib.sh"

# t | zone | days | start | end | expected | what it shows
cases='2026-03-04T10:00:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-04T10:00:00Z|inside the window: now
2026-03-04T07:00:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-04T09:00:00Z|before the start: the start of the day
2026-03-04T16:59:59Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-04T16:59:59Z|one second before 17:00 is inside
2026-03-04T17:00:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-05T09:00:00Z|17:00 itself is outside: the next morning
2026-03-06T17:00:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T09:00:00Z|Friday after the end: Monday
2026-03-07T12:00:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T09:00:00Z|Saturday: Monday
2026-03-08T23:59:00Z|UTC|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T09:00:00Z|late Sunday: Monday
2026-03-09T10:00:00Z|UTC|sat,sun|10:00|12:00|2026-03-14T10:00:00Z|a weekend-only window from a Monday
2026-03-04T18:00:00Z|UTC|wed|09:00|17:00|2026-03-11T09:00:00Z|one day a week, after it ended: a week later
2026-03-06T16:30:00Z|Europe/Berlin|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T08:00:00Z|17:30 in Berlin on a Friday: Monday 09:00 CET
2026-03-06T13:00:00Z|America/New_York|mon,tue,wed,thu,fri|09:00|17:00|2026-03-06T14:00:00Z|08:00 in New York: 09:00 EST
2026-03-07T12:00:00Z|America/New_York|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T13:00:00Z|across the US spring-forward: 09:00 EDT, not EST
2026-03-27T17:00:00Z|Europe/Berlin|mon,tue,wed,thu,fri|09:00|17:00|2026-03-30T07:00:00Z|across the EU spring-forward: 09:00 CEST
2026-10-23T16:00:00Z|Europe/Berlin|mon,tue,wed,thu,fri|09:00|17:00|2026-10-26T08:00:00Z|across the EU fall-back: 09:00 CET
2026-10-31T22:00:00Z|America/New_York|mon,tue,wed,thu,fri|09:00|17:00|2026-11-02T14:00:00Z|across the US fall-back: 09:00 EST
2026-03-06T23:30:00Z|UTC|fri|22:00|24:00|2026-03-06T23:30:00Z|a window that ends at 24:00 includes 23:30
2026-03-07T00:00:00Z|UTC|fri|22:00|24:00|2026-03-13T22:00:00Z|and ends at midnight
2026-03-08T05:00:00Z|America/New_York|sun|02:30|03:30|2026-03-15T06:30:00Z|a window inside the skipped hour does not exist that day
2026-03-09T00:30:00Z|Asia/Tokyo|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T00:30:00Z|09:30 in Tokyo is inside
2026-03-09T03:00:00Z|Asia/Kathmandu|mon,tue,wed,thu,fri|09:00|17:00|2026-03-09T03:15:00Z|a +05:45 zone
2026-03-06T23:00:00Z|Pacific/Kiritimati|mon,tue,wed,thu,fri|09:00|17:00|2026-03-08T19:00:00Z|+14:00: already Saturday there, so Monday
2026-04-04T22:00:00Z|Australia/Sydney|mon,tue,wed,thu,fri|09:00|17:00|2026-04-05T23:00:00Z|southern fall-back: Monday 09:00 AEST'

plan $(( $(printf '%s\n' "$cases" | wc -l) + 2 ))
db_fresh

while IFS='|' read -r t tz days ws we want desc; do
	got=$(sql "SELECT drip.rfc3339(drip.next_in_window(:'t', :'tz', string_to_array(:'days', ','), :'ws', :'we'))" \
		-v t="$t" -v tz="$tz" -v days="$days" -v ws="$ws" -v we="$we")
	is "$got" "$want" "$desc ($tz)"
done <<CASES
$cases
CASES

got=$(printf '%s\n' "SET TIME ZONE 'Pacific/Kiritimati';" \
	"SELECT drip.rfc3339(drip.next_in_window('2026-03-07T12:00:00Z', 'America/New_York', '{mon,tue,wed,thu,fri}', '09:00', '17:00'));" |
	psql -X -q -A -t -d "$DATABASE_URL")
is "$got" 2026-03-09T13:00:00Z "the session's own time zone changes nothing"
is "$(sql "SELECT drip.next_in_window(now(), 'UTC', '{}', '09:00', '17:00') IS NULL")" t \
	'no day at all: no moment'
