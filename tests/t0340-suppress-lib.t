#!/bin/sh
# lib/suppress.c as send-due and inbox-sync call it: suppress_add (with a
# reason and a source), suppress_lookup (customer-scoped, through the
# index) and suppress_remove, driven by a small program built here.
. "$(dirname "$0")/lib.sh"
plan 12

cat >"$T/helper.c" <<'EOF'
/* helper CONNINFO CUSTOMER add|lookup|remove VALUE [REASON SOURCE] */
#include <stdio.h>
#include <string.h>
#include "drip.h"

int
main(int argc, char *argv[])
{
	struct derr e;
	long long id = 0;
	PGconn *c;
	int rc;

	if (argc < 5 || (c = db_open(&e, argv[1])) == NULL)
		return 70;
	if (strcmp(argv[3], "add") == 0)
		rc = suppress_add(&e, c, argv[2], argv[4], argc > 5 ? argv[5] : NULL,
		    argc > 6 ? argv[6] : NULL, &id);
	else if (strcmp(argv[3], "lookup") == 0)
		rc = suppress_lookup(&e, c, argv[2], argv[4], &id);
	else
		rc = suppress_remove(&e, c, argv[2], argv[4], &id);
	if (rc == -1)
		printf("error %d %s\n", e.code, e.msg);
	else
		printf("%d %lld\n", rc, id);
	PQfinish(c);
	return 0;
}
EOF
# Built like the unit tests; a sanitizer build needs its flags at link time.
pkgs='libpq json-c libbsd-overlay'
build() {
	cc -std=c11 -D_GNU_SOURCE $1 -I"$DRIP_TOP/lib" $(pkg-config --cflags $pkgs) \
		-o "$T/helper" "$T/helper.c" "$DRIP_BUILD/lib/libdrip.a" \
		$(pkg-config --libs libpq libcurl json-c libbsd-overlay libcrypto) 2>"$T/cc.err"
}
build '' || build '-fsanitize=address,undefined'
ok 'the helper builds against libdrip.a' test -x "$T/helper"
h() { "$T/helper" "$DATABASE_URL" "$@"; }

db_fresh
acme_id=$(h acme add Bounced@Example.COM hard-bounce inbox-sync)
like "$acme_id" '^1 [0-9]+$' 'suppress_add adds an address: 1 and its id'
is "$(sql "SELECT value || '/' || kind || '/' || reason || '/' || source FROM drip.suppression_entry")" \
	'bounced@example.com/address/hard-bounce/inbox-sync' 'stored lower-case with the reason and source given'
is "$(h acme add bounced@example.com other send-due)" "0 ${acme_id#1 }" \
	'adding it again: 0 and the same entry'
is "$(sql "SELECT reason FROM drip.suppression_entry")" hard-bounce 'the first reason is kept'
is "$(h acme lookup BOUNCED@example.com)" "1 ${acme_id#1 }" 'suppress_lookup finds the address in any case'
h acme add unsub.example.org opt-out inbox-sync >/dev/null
like "$(h acme lookup x@mail.unsub.example.org)" '^1 [0-9]+$' 'and a subdomain of a suppressed domain'
is "$(h beta lookup bounced@example.com)" '0 0' "another customer's entry does not answer"
like "$(h acme add 'not valid' r s)" '^error 65 ' 'an invalid value is EX_DATAERR'
is "$(h acme remove bounced@example.com)" "1 ${acme_id#1 }" 'suppress_remove removes it'
is "$(h acme lookup bounced@example.com)" '0 0' 'and it no longer suppresses'
is "$(h acme remove bounced@example.com)" '0 0' 'removing it again is 0'
