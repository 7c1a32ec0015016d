#!/bin/sh
# db-migrate creates the schema, is idempotent, serializes concurrent runs,
# and tools refuse a schema that is missing, older or newer than they are.
. "$(dirname "$0")/lib.sh"
plan 16

db_fresh --empty
run db-migrate --status
n=$(printf '%s' "$out" | jq '.pending|length')
is "$(printf '%s' "$out" | jq -c '[.version, .pending[-1] == .latest]')" "[0,true]" \
	'status on an empty database: version 0, every migration pending'

run db-migrate
is "$rc" 0 'first run succeeds'
is "$(printf '%s' "$out" | jq -c --argjson n "$n" '.version == .latest and (.applied|length) == $n')" true \
	'first run applies every migration and reports them'
is "$(sql 'SELECT count(*) FROM drip.schema_migrations')" "$n" \
	'schema_migrations has one row per version'

run db-migrate
is "$(printf '%s' "$out" | jq -c .applied)" '[]' 'second run applies nothing'

# Two runs at once on a fresh database: one applies, the other waits on the
# lock and then finds nothing to do; neither fails.
db2=${_tap_db}_c
psql -X -q -d "$DRIP_TEST_ADMIN_URL" -c "CREATE DATABASE \"$db2\"" >/dev/null
at_exit psql -X -q -d "\"$DRIP_TEST_ADMIN_URL\"" -c "\"DROP DATABASE IF EXISTS $db2 WITH (FORCE)\""
url2=$(_db_url_for "$DRIP_TEST_ADMIN_URL" "$db2")
db-migrate -d "$url2" >"$T/a" 2>"$T/ae" & pa=$!
db-migrate -d "$url2" >"$T/b" 2>"$T/be" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
is "$ra $rb" "0 0" 'two concurrent runs both exit 0'
is "$(cat "$T/a" "$T/b" | jq -s -c 'map(.applied|length) | sort')" "[0,$n]" \
	'exactly one concurrent run applied the migrations'
is "$(psql -X -At -d "$url2" -c 'SELECT count(*) FROM drip.schema_migrations')" "$n" \
	'no version recorded twice'

# A version merged late, below one already applied, is still pending, and
# tools refuse the schema until it is applied.
low=$(sql 'SELECT min(version) FROM drip.schema_migrations WHERE version > 1')
sql "DELETE FROM drip.schema_migrations WHERE version = $low"
is "$(db-migrate --status | jq -c .pending)" "[$low]" 'a missing lower version is pending'
must_fail 75 'a tool refuses a schema with a missing version' campaign-show --customer nobody
sql "INSERT INTO drip.schema_migrations (version, name) VALUES ($low, 'back')"

# A database newer than the binary: db-migrate and every tool refuse (75).
sql "INSERT INTO drip.schema_migrations (version, name) VALUES (9999, 'future')"
must_fail 75 'db-migrate refuses a newer schema' db-migrate
like "$err" 'newer than this drip.*upgrade drip' 'and says to upgrade drip'
must_fail 75 'db-migrate --status exits 75 on a newer schema' db-migrate --status

# Connection failures are temporary (75), with a one-line reason.
must_fail 75 'an unreachable database is a temporary failure' \
	db-migrate -d "host=$T/nowhere dbname=x connect_timeout=2"
like "$err" '^db-migrate: cannot connect to database: ' 'diagnostic names the tool and what failed'

must_fail 64 'an unknown option is a usage error' db-migrate --bogus
