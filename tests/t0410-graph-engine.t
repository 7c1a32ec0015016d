#!/bin/bash
# The Graph client library against the mock: device-code states, refresh
# rotation, drafts, replies, sends, Sent Items, delta, Retry-After, throttled
# bursts and the ambiguous send (tests/unit/test-graph-engine.c; its TAP is
# this file's).
. "$(dirname "$0")/lib.sh"
. "$DRIP_TOP/tests/mock-graph/mock.sh"

mock_start --interval 0 || { echo "Bail out! mock-graph did not start"; exit 1; }
at_exit mock_stop
"$DRIP_BUILD/tests/test-graph-engine"
exit $?
