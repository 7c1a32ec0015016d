#!/bin/sh
# The database itself keeps customers apart and data consistent, whatever
# a tool (or a hand-written UPDATE) does.
. "$(dirname "$0")/lib.sh"
plan 21
db_fresh

sql "
INSERT INTO drip.email_identity (customer_id, email) VALUES ('a', 'sender@a.example'), ('b', 'sender@b.example');
INSERT INTO drip.email_campaign (customer_id, identity_id, name) VALUES ('a', 1, 'A one');
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text) VALUES ('a', 1, 1, 'hi', 'hello');
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES ('a', 1, 'Ann@X.com');
" >/dev/null

fails() {	# desc sql: the statement must fail with the given SQLSTATE class
	_d=$1 _state=$2 _q=$3
	_got=$(printf '\\set VERBOSITY sqlstate\n%s\n' "$_q" | psql -X -q -At -v ON_ERROR_STOP=1 -d "$DATABASE_URL" 2>&1)
	like "$_got" "^ERROR:  $_state" "$_d"
}

fails 'a campaign cannot use another customer'"'"'s identity' 23503 \
	"INSERT INTO drip.email_campaign (customer_id, identity_id, name) VALUES ('b', 1, 'B steals A')"
fails 'a prospect cannot join another customer'"'"'s campaign' 23503 \
	"INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES ('b', 1, 'x@y.example')"
fails 'a template cannot be added to another customer'"'"'s campaign' 23503 \
	"INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step, subject, body_text) VALUES ('b', 1, 2, 's', 'b')"
fails 'a campaign cannot be moved to another customer'"'"'s identity by UPDATE' 23503 \
	"UPDATE drip.email_campaign SET identity_id = 2"
fails 'the same address twice in a campaign, differing only in case' 23505 \
	"INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email) VALUES ('a', 1, 'ann@x.com')"
sql "INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at) VALUES ('a', 1, 1, 1, now())"
fails 'a step cannot be scheduled twice for one prospect' 23505 \
	"INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at) VALUES ('a', 1, 1, 1, now())"
fails 'a step needs a template of that step number' 23503 \
	"INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id, prospect_id, step, due_at) VALUES ('a', 1, 1, 7, now())"
fails 'an event cannot name another customer'"'"'s campaign' 23503 \
	"INSERT INTO drip.email_event (customer_id, type, campaign_id) VALUES ('b', 'sent', 1)"
fails 'an event cannot name another customer'"'"'s step' 23503 \
	"INSERT INTO drip.email_event (customer_id, type, step_id) VALUES ('b', 'sent', 1)"
# b's own campaign and prospect, so that only the step can be refused
sql "
INSERT INTO drip.email_campaign (customer_id, identity_id, name) VALUES ('b', 2, 'B one');
INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email)
	SELECT 'b', id, 'bo@x.com' FROM drip.email_campaign WHERE customer_id = 'b';
" >/dev/null
like "$(psql -X -q -At -d "$DATABASE_URL" -c "INSERT INTO drip.email_message_metadata (customer_id, campaign_id, prospect_id, step_id, identity_id, graph_message_id) SELECT 'b', p.campaign_id, p.id, 1, 2, 'AAMk' FROM drip.email_campaign_prospect p WHERE p.customer_id = 'b'" 2>&1)" \
	'violates foreign key constraint "email_message_metadata_customer_id_step_id_fkey"' \
	'message metadata cannot name another customer'"'"'s step'
like "$(psql -X -q -At -d "$DATABASE_URL" -c "INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id) SELECT 'b', 'sent', id, 1 FROM drip.email_campaign WHERE customer_id = 'b'" 2>&1)" \
	'violates foreign key constraint "email_event_customer_id_campaign_id_prospect_id_fkey"' \
	'an event cannot name another customer'"'"'s prospect'
# A prospect's key is (id, customer_id, campaign_id) (migration 017); id
# alone is unique because no insert can choose it.
fails 'a prospect'"'"'s id is the sequence'"'"'s, never the inserter'"'"'s' 428C9 \
	"INSERT INTO drip.email_campaign_prospect (id, customer_id, campaign_id, email) VALUES (1, 'a', 1, 'other@x.com')"
# A step's key is (id, customer_id) (migration 015); id alone is unique
# because no insert can choose it.
fails 'a step'"'"'s id is the sequence'"'"'s, never the inserter'"'"'s' 428C9 \
	"INSERT INTO drip.email_campaign_prospect_step (id, customer_id, campaign_id, prospect_id, step, due_at) VALUES (1, 'b', 1, 1, 1, now())"
is "$(sql "SELECT count(*) FROM drip.email_event WHERE step_id IS NOT NULL")|$(sql "SELECT count(*) FROM drip.email_message_metadata")" '0|0' \
	'nothing naming another customer'"'"'s step was stored'
sql "INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES ('a', 'bob@x.com', 'address')"
fails 'one suppression entry per customer and value' 23505 \
	"INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES ('a', 'bob@x.com', 'address')"
fails 'suppression values are stored lower-case, so case cannot split them' 23514 \
	"INSERT INTO drip.suppression_entry (customer_id, value, kind) VALUES ('a', 'Bob@X.com', 'address')"
fails 'status words are the contract'"'"'s' 23514 \
	"UPDATE drip.email_campaign SET status = 'sending'"
fails 'a claimed step must name its worker and lease' 23514 \
	"UPDATE drip.email_campaign_prospect_step SET status = 'claimed'"
fails 'an unknown time zone is refused by the database too' 23514 \
	"UPDATE drip.email_campaign SET timezone = 'Mars/Olympus'"
fails 'customer_id longer than 200 characters' 23514 \
	"INSERT INTO drip.email_identity (customer_id, email) VALUES (repeat('c', 201), 'x@y.example')"

is "$(sql "SELECT drip.suppressed_by('a', 'BOB@x.com') IS NOT NULL, drip.suppressed_by('b', 'bob@x.com') IS NULL")" 't|t' \
	'suppression lookups are case-insensitive and scoped to the customer'
