#!/bin/sh
# ci-import.sh CAMPAIGN FILE.csv [MAX_PERCENT]: a pipeline step. Import what
# is valid, keep the rejected lines for someone to fix, and fail the
# pipeline when more than MAX_PERCENT (default 5) of the rows were invalid.
set -eu
campaign=$1 file=$2 max=${3:-5}
rejects=${REJECTS:-rejects.csv}

summary=$(prospect-import --campaign "$campaign" --csv --skip-invalid \
	--rejects "$rejects" <"$file" 2>invalid.log)
echo "$summary" | jq -c .
if ! echo "$summary" | jq -e --argjson max "$max" \
	'.read == 0 or (100 * .invalid / .read) <= $max' >/dev/null; then
	echo "ci-import: $(echo "$summary" | jq .invalid) of $(echo "$summary" | jq .read) rows invalid (limit $max%); see $rejects" >&2
	exit 1
fi
