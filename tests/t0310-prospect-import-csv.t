#!/bin/sh
# prospect-import --csv: RFC 4180 edge cases, the header and --map, other
# columns into fields, line numbers, and a rejects file that re-imports.
. "$(dirname "$0")/lib.sh"
plan 35

db_fresh
sql "INSERT INTO drip.email_identity (customer_id, email) VALUES ('acme', 'me@acme.test')"
campaign=$(sql "INSERT INTO drip.email_campaign (customer_id, identity_id, name)
	SELECT 'acme', id, 'c' FROM drip.email_identity RETURNING id")
imp() { prospect-import --campaign "$campaign" --csv "$@"; }
get() {	# email -> first_name|company|fields
	sql "SELECT coalesce(first_name, '-') || '|' || coalesce(company, '-') || '|' || fields::text
		FROM drip.email_campaign_prospect WHERE lower(email) = lower('$1')"
}

# Quoting: a line break inside quotes, doubled quotes, commas, CRLF, a BOM
printf '\357\273\277email,first_name,company,note\r\n"ann@example.com","Ann ""the"" First","Acme, Inc.","two\r\nlines"\r\nbob@example.com,Bob,,\r\n' >"$T/quoted.csv"
run imp <"$T/quoted.csv"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .invalid]')" '[2,2,0]' 'BOM, CRLF and quoted fields: two rows'
is "$(get ann@example.com)" "$(printf 'Ann "the" First|Acme, Inc.|{"note": "two\\r\\nlines"}')" \
	'doubled quotes, a comma and a line break inside quotes are data'
is "$(get bob@example.com)" 'Bob|-|{}' 'empty cells are absent fields, not empty strings'
is "$(sql "SELECT count(*) FROM drip.email_campaign_prospect WHERE email LIKE '%\357\273\277%'")" 0 \
	'the byte-order mark is not part of the first column name'

# Quotes, backslashes, tabs and other text, in cells and column names, go
# into fields as written (these records take the fast way, not json-c)
printf 'email,"say ""what""",note\nqb@example.com,"a ""b"" \\ c","tab\there Zo\303\253"\n' | imp >/dev/null
is "$(sql "SELECT fields FROM drip.email_campaign_prospect WHERE email = 'qb@example.com'" | jq -c .)" \
	"$(printf '{"note":"tab\\there Zo\303\253","say \\"what\\"":"a \\"b\\" \\\\ c"}')" \
	'quotes, a backslash, a tab and UTF-8 text in cells and names are kept as written'

# LF line endings, columns in any order and any case, extra columns into fields
printf 'Company,EMAIL,industry,Region\nInitech,cy@example.com,software,emea\n' | imp >/dev/null
is "$(get cy@example.com)" '-|Initech|{"Region": "emea", "industry": "software"}' \
	'header names match prospect fields in any case; other columns go into fields as named'

# --map renames a column; mapped to nothing it is dropped
printf 'E-Mail,Vorname,Notes\ndee@example.com,Dee,secret\n' |
	imp --map E-Mail=email --map vorname=first_name --map Notes= >/dev/null
is "$(get dee@example.com)" 'Dee|-|{}' '--map renames columns (header matched in any case); =nothing drops one'
printf 'E-Mail,Branche\neve@example.com,retail\n' | imp --map E-Mail=email --map Branche=industry >/dev/null
is "$(get eve@example.com)" '-|-|{"industry": "retail"}' '--map can name a key of fields'
must_fail 65 '--map of a column the header lacks is an error' sh -c \
	"printf 'email\nx@example.com\n' | prospect-import --campaign $campaign --csv --map Nope=email"
like "$err" "header: --map: no column 'Nope'" 'and names it'
must_fail 64 '--map without = is a usage error' imp --map email
must_fail 64 '--map to fields as a whole is a usage error' imp --map x=fields

# The header
before=$(table_counts)
must_fail 65 'no email column: 65' sh -c "printf 'name,company\nAnn,Acme\n' | prospect-import --campaign $campaign --csv"
like "$err" 'header: no email column' 'and says so'
must_fail 65 'two columns for one field: 65' sh -c "printf 'email,Email\na@example.com,b@example.com\n' | prospect-import --campaign $campaign --csv"
like "$err" "more than one column for 'email'" 'and names the field'
is "$(table_counts)" "$before" 'a bad header writes nothing'

# An empty file and a header only: nothing to import, not an error
run imp </dev/null
is "$rc $(printf '%s' "$out" | jq -c '[.read, .inserted]')" '0 [0,0]' 'an empty file imports nothing and exits 0'
run sh -c "printf 'email,first_name\r\n' | prospect-import --campaign $campaign --csv"
is "$rc $(printf '%s' "$out" | jq -c '[.read, .inserted]')" '0 [0,0]' 'a header only imports nothing and exits 0'

# Errors name the line a record begins on, after multi-line records too
printf 'email,note\n"a1@example.com","x\ny"\nno-at,\n"a2@example.com","3\nlines\nhere"\na3@example.com,x,extra\n"a4@example.com,x\n' >"$T/bad.csv"
before=$(table_counts)
must_fail 65 'strict: invalid CSV rows exit 65' imp <"$T/bad.csv"
is "$(table_counts)" "$before" 'strict: nothing written'
like "$err" 'line 4: email: no @' 'a row error reads "line N: field: why", N after a quoted line break'
like "$err" 'line 8: 3 fields, the header has 2' 'a ragged row is invalid, with its line'
like "$err" 'line 9: quoted field not closed at the end of input' 'a quote left open is invalid'
like "$err" '3 invalid rows: nothing imported' 'and the count'

# --skip-invalid with --rejects: the header and the bad records, verbatim
run imp --skip-invalid --rejects "$T/rejects.csv" <"$T/bad.csv"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .invalid]')" '[5,2,3]' '--skip-invalid imports the two good rows'
printf 'email,note\nno-at,\na3@example.com,x,extra\n"a4@example.com,x\n' >"$T/expected.csv"
ok 'the rejects file is the header plus the bad records verbatim' cmp "$T/rejects.csv" "$T/expected.csv"
printf 'email,note\r\n"f1@example.com","a\r\nb"\r\nbad,\r\n' >"$T/crlf.csv"
imp --skip-invalid --rejects "$T/rejects-crlf.csv" <"$T/crlf.csv" >/dev/null 2>&1
ok 'rejected CRLF records keep their CRLF' cmp "$T/rejects-crlf.csv" "$(printf 'email,note\r\nbad,\r\n' >"$T/exp-crlf.csv"; echo "$T/exp-crlf.csv")"

# Fix the rejects and import them again
sed -e 's/^no-at,$/fixed@example.com,/' -e 's/,x,extra$/,x/' -e 's/^"a4@example.com,x$/a4@example.com,x/' \
	"$T/rejects.csv" >"$T/fixed.csv"
run imp <"$T/fixed.csv"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .invalid]')" '[3,3,0]' 'the fixed rejects import cleanly'

# A record over the size limit is invalid, and reading goes on
awk 'BEGIN { printf "email,note\nbig@example.com,"; for (i = 0; i < 1100000; i++) printf "x"; printf "\nsmall@example.com,y\n" }' >"$T/big.csv"
run imp --skip-invalid <"$T/big.csv"
is "$(printf '%s' "$out" | jq -c '[.read, .inserted, .invalid]')" '[2,1,1]' 'a record over 1 MiB is invalid; the next one is read'
like "$err" 'line 2: record longer than 1048576 bytes' 'with the limit in the message'

# Invalid UTF-8 in a cell is an invalid row, not a database error
printf 'email,first_name\nu@example.com,\377\376\n' >"$T/utf8.csv"
must_fail 65 'invalid UTF-8 in a cell: 65' imp <"$T/utf8.csv"
like "$err" 'line 2: first_name: invalid UTF-8' 'reported with its line and field'

# A time zone is checked once, and still stored on every row that names it
printf 'email,timezone\ntz1@example.com,Asia/Tokyo\ntz2@example.com,Asia/Tokyo\ntz3@example.com,Asia/Tokio\ntz4@example.com,Asia/Tokyo\n' >"$T/tz.csv"
run imp --skip-invalid <"$T/tz.csv"
is "$(sql "SELECT string_agg(email || '=' || timezone, ' ' ORDER BY email) FROM drip.email_campaign_prospect WHERE email LIKE 'tz%'")" \
	'tz1@example.com=Asia/Tokyo tz2@example.com=Asia/Tokyo tz4@example.com=Asia/Tokyo' 'every row keeps its time zone'
like "$err" 'line 4: timezone: unknown time zone' 'an unknown zone after known ones is still reported'
