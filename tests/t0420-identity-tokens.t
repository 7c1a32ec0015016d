#!/bin/bash
# Access tokens of a connected identity, refreshed lazily under the row
# lock: tests/unit/test-graph-identity.c against the mock and a database
# (its TAP is this file's), after outlook-auth connected identity 1.
. "$(dirname "$0")/lib.sh"
. "$DRIP_TOP/tests/mock-graph/mock.sh"

db_fresh
mock_start --interval 0 --auto-approve sales@acme.example ||
	{ echo "Bail out! mock-graph did not start"; exit 1; }
at_exit mock_stop
export DRIP_CLIENT_ID=00000000-0000-0000-0000-00000000d41b
export DRIP_KEY_FILE=$T/drip.key
head -c 32 /dev/urandom >"$DRIP_KEY_FILE"
chmod 600 "$DRIP_KEY_FILE"
outlook-auth -q --customer acme >/dev/null 2>&1 ||
	{ echo "Bail out! outlook-auth could not connect the mailbox"; exit 1; }
"$DRIP_BUILD/tests/test-graph-identity"
exit $?
