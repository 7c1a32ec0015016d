#!/bin/sh
# export-events.sh DIR: the nightly export. Every event not exported yet
# goes to DIR/events-YYYY-MM-DD.jsonl.gz; DIR/.last keeps the time and id of
# the newest one, so the next night starts there and repeats none.
set -eu
dir=$1
mkdir -p "$dir"
read -r since last 2>/dev/null <"$dir/.last" || { since=1970-01-01T00:00:00Z; last=0; }
out=$dir/events-$(date -u +%Y-%m-%d).jsonl.gz

events --since "$since" | jq -c --argjson last "$last" 'select(.id > $last)' >"$dir/.new"
if [ -s "$dir/.new" ]; then
	gzip -c "$dir/.new" >>"$out"
	tail -n 1 "$dir/.new" | jq -r '"\(.created_at) \(.id)"' >"$dir/.last"
fi
echo "export-events: $(wc -l <"$dir/.new") new events in $out" >&2
rm -f "$dir/.new"
