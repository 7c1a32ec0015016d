#!/bin/sh
# Least privilege: the roles the migrations create can do what their tools
# need and nothing else; a customer-scoped role sees only its customer.
. "$(dirname "$0")/lib.sh"
plan 9
db_fresh

sql "
INSERT INTO drip.email_identity (customer_id, email, access_token) VALUES ('a', 'a@a.example', '\\xdeadbeef'), ('b', 'b@b.example', NULL);
INSERT INTO drip.email_campaign (customer_id, identity_id, name) VALUES ('a', 1, 'A'), ('b', 2, 'B');
" >/dev/null
u=$(echo "$_tap_db" | tr -c 'a-z0-9\n' _)
sql "
SET client_min_messages = warning; DROP ROLE IF EXISTS ${u}_send; DROP ROLE IF EXISTS ${u}_read; DROP ROLE IF EXISTS ${u}_acme;
CREATE ROLE ${u}_send LOGIN IN ROLE drip_sender;
CREATE ROLE ${u}_read LOGIN IN ROLE drip_reader;
CREATE ROLE ${u}_acme LOGIN IN ROLE drip_customer;
INSERT INTO drip.customer_role VALUES ('${u}_acme', 'a');
"
at_exit "sql 'DROP OWNED BY ${u}_send, ${u}_read, ${u}_acme; DROP ROLE ${u}_send; DROP ROLE ${u}_read; DROP ROLE ${u}_acme'"

as() {	# role sql: run as that login role, print SQLSTATE on error
	_r=$1; shift
	printf '\\set VERBOSITY sqlstate\n%s\n' "$1" | psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL user=$_r" 2>&1
}

like "$(as ${u}_send 'DELETE FROM drip.email_campaign')" '42501' 'the sender role cannot delete campaigns'
like "$(as ${u}_send "UPDATE drip.email_campaign SET name = 'x'")" '42501' 'nor rename them'
is "$(as ${u}_send "UPDATE drip.email_campaign SET status = 'finished' WHERE id = 1 RETURNING status")" 'finished' \
	'it can finish a campaign, as send-due does'
is "$(as ${u}_send "SELECT count(*) FROM drip.claim_due('w', now(), 10, '1 minute') AS c(id)")" 0 \
	'it can claim due steps'
like "$(as ${u}_read 'SELECT access_token FROM drip.email_identity')" '42501' 'the reader cannot read sealed tokens'
is "$(as ${u}_read 'SELECT count(*) FROM drip.email_campaign')" 2 'the reader sees every campaign'
like "$(as ${u}_read "INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES ('a', 'x@y.example', 'address')")" '42501' \
	'the reader cannot write'
is "$(as ${u}_acme 'SELECT string_agg(customer_id, chr(44)) FROM drip.email_campaign')" 'a' \
	'a customer-scoped role sees only its customer'"'"'s campaigns'
is "$(as ${u}_acme "SELECT count(*) FROM drip.email_identity WHERE customer_id = 'b'")" 0 \
	'and not another customer'"'"'s mailboxes, even when it asks for them'
