#!/bin/bash
# Every command in every man page's EXAMPLES runs, in order, against a
# fresh database and the Graph mock, and exits 0: the documentation cannot
# rot. The fixture each page starts from: schema migrated, the mock
# running and approving sign-ins for sales@acme.example, the key file and
# DRIP_CLIENT_ID set, and the files of examples/ in the working folder.
. "$(dirname "$0")/lib.sh"
db_fresh --empty
admin_url=$DATABASE_URL

cmds=$T/cmds
: >"$cmds"
for page in "$DRIP_TOP"/man/*.[1-9]; do
	sh "$DRIP_TOP/tests/man-examples.sh" "$page" | awk -v p="${page##*/}" '
		{ gsub(/\n/, "\\n"); n++; print p "\t" n "\t" $0 }' >>"$cmds"
done
plan "$(wc -l <"$cmds")"

fixture() {	# page: a database and a mock of its own, in a fresh folder
	_db=${_tap_db}_$(echo "$1" | tr -c 'a-z0-9\n' _)
	psql -X -q -d "$DRIP_TEST_ADMIN_URL" -c "CREATE DATABASE \"$_db\"" >/dev/null
	at_exit psql -X -q -d "'$DRIP_TEST_ADMIN_URL'" -c "'DROP DATABASE IF EXISTS \"$_db\" WITH (FORCE)'"
	export DATABASE_URL="$(_db_url_for "$DRIP_TEST_ADMIN_URL" "$_db")"
	db-migrate -q
	work=$T/work-$1
	mkdir -p "$work"
	cp "$DRIP_TOP"/examples/*.json "$DRIP_TOP"/examples/*.csv "$work"/ 2>/dev/null
	if command -v outlook-auth >/dev/null 2>&1 && [ -f "$DRIP_TOP/tests/mock-graph/mock.sh" ]; then
		[ -n "${MOCK_PID:-}" ] && mock_stop
		mkdir -p "$T/mock-$1"
		MOCK_DIR=$T/mock-$1 mock_start --auto-approve sales@acme.example --interval 0
		export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000d41b
		export DRIP_KEY_FILE=$work/drip.key
		head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
		chmod 600 "$DRIP_KEY_FILE"
		outlook-auth --customer acme >/dev/null 2>&1 ||
			diag "fixture: outlook-auth could not connect sales@acme.example"
	else
		sql "INSERT INTO drip.email_identity (customer_id, email, display_name) VALUES ('acme', 'sales@acme.example', 'Acme Sales')" >/dev/null
	fi
}
[ -f "$DRIP_TOP/tests/mock-graph/mock.sh" ] && . "$DRIP_TOP/tests/mock-graph/mock.sh" &&
	at_exit '[ -n "${MOCK_PID:-}" ] && mock_stop'

page=
while IFS="$(printf '\t')" read -r p n cmd; do
	if [ "$p" != "$page" ]; then
		page=$p
		fixture "$p"
	fi
	cmd=$(printf '%b' "$cmd")
	(cd "$work" && bash -o pipefail -c "$cmd") >"$T/out" 2>&1
	r=$?
	_tap_result $r "$p example $n: $(printf '%s' "$cmd" | head -n 1)"
	[ $r -eq 0 ] || { diag "exit $r"; sed 's/^/#   /' "$T/out" | head -20; }
done <"$cmds"
