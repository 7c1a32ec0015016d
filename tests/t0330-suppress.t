#!/bin/sh
# suppress: add, remove, list and check, from arguments or standard input;
# addresses and domains (with their subdomains); invalid values write
# nothing; every entry belongs to one customer and answers only for it.
. "$(dirname "$0")/lib.sh"
plan 46

db_fresh
entries() {	# customer -> "value/kind/reason/source ..." in value order
	sql "SELECT string_agg(value || '/' || kind || '/' || reason || '/' || source, ' ' ORDER BY value)
		FROM drip.suppression_entry WHERE customer_id = '$1'"
}

# Usage
must_fail 64 'no command is a usage error' suppress --customer acme
must_fail 64 'an unknown command is a usage error' suppress block --customer acme x@example.com
must_fail 64 'no --customer is a usage error' suppress list
must_fail 64 'an empty --customer is a usage error' suppress list --customer ''
must_fail 64 '--reason is for add only' suppress check --customer acme --reason r x@example.com
must_fail 64 'list takes no values' suppress list --customer acme x@example.com
# The usage text is the man page's SYNOPSIS
synopsis=$(mandoc -Tascii "$DRIP_TOP/man/suppress.1" | sed 's/.\x08//g' |
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' '  ' | sed 's/^ //;s/ $//')
is "$(suppress -h | sed 's/^usage: //' | tr -s ' \n' '  ' | sed 's/ $//')" "$synopsis" 'the usage is the SYNOPSIS of the man page'
run suppress -h
is "$rc $(printf '%s' "$out" | head -n 1 | cut -c1-15)" '0 usage: suppress' '-h prints the usage on stdout'

# add from arguments: addresses lower-cased, domains with or without @
run suppress add --customer acme Ann@Example.COM @Blocked.Test example.org
is "$rc" 0 'add exits 0'
is "$(printf '%s\n' "$out" | jq -r '[.value, .kind, .reason, .source, .customer_id] | join("/")' | tr '\n' ' ')" \
	'ann@example.com/address/manual/suppress/acme blocked.test/domain/manual/suppress/acme example.org/domain/manual/suppress/acme ' \
	'add prints each entry as stored, in the order given'
is "$(entries acme)" 'ann@example.com/address/manual/suppress blocked.test/domain/manual/suppress example.org/domain/manual/suppress' \
	'the entries are stored lower-case, domains without @'
like "$(printf '%s\n' "$out" | head -n 1 | jq -r '"\(.id) \(.created_at)"')" '^[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
	'entries carry their id and created_at (RFC 3339 UTC)'

# Adding an existing entry is not an error and changes nothing
id=$(sql "SELECT id FROM drip.suppression_entry WHERE value = 'ann@example.com'")
run suppress add --customer acme --reason other ANN@example.com
is "$rc $(printf '%s' "$out" | jq -c '[.id, .reason]')" "0 [$id,\"manual\"]" \
	'adding an existing entry exits 0 and prints the entry as it was'
is "$(rows suppression_entry "customer_id = 'acme'")" 3 'no second row'

# add from standard input: plain lines and JSON Lines with a reason
printf 'one@example.net\n\n  {"value": "two@example.net", "reason": "bounced"}\n@three.example.net\r\n' |
	suppress add --customer acme --reason complaint --source crm >"$T/out"
is "$(entries acme | tr ' ' '\n' | grep example.net | tr '\n' ' ')" \
	'one@example.net/address/complaint/crm three.example.net/domain/complaint/crm two@example.net/address/bounced/crm ' \
	'standard input: one value a line or JSON Lines; --reason and --source apply, a JSON reason wins'
is "$(wc -l <"$T/out" | tr -d ' ')" 3 'one entry printed per value'

# Invalid values: 65, nothing written; --skip-invalid writes the others
before=$(table_counts)
must_fail 65 'an invalid argument: 65' suppress add --customer acme good@example.com 'bad value' x@localhost
is "$(table_counts)" "$before" 'nothing written'
like "$err" "'bad value': invalid character in domain" 'the invalid value is named'
like "$err" "'x@localhost': domain needs a dot" 'every invalid value is reported'
printf 'ok@example.com\nnot an address\n{"value": "x@example.com", "colour": "red"}\n{"reason": "r"}\n{"value": "@"}\n' >"$T/bad"
must_fail 65 'invalid lines on standard input: 65' suppress add --customer acme <"$T/bad"
is "$(table_counts)" "$before" 'nothing written'
like "$err" 'line 2: invalid character in domain' 'a bad line is named by its number'
like "$err" 'line 3: colour: unknown field' 'JSON lines are whitelisted'
like "$err" 'line 4: value: required' 'and value is required'
like "$err" 'line 5: value: empty domain' 'a JSON value is checked like a line'
printf '{"value": "a@example.com"} trailing\n' >"$T/trail"
must_fail 65 'a JSON line with text after the object is invalid' suppress add --customer acme <"$T/trail"
run suppress add --customer acme --skip-invalid <"$T/bad"
is "$rc $(printf '%s' "$out" | jq -r .value)" '0 ok@example.com' '--skip-invalid adds the valid values, exits 0'

# check: exit 1 when any value is suppressed, with the entry that does it
run suppress check --customer acme a@sub.blocked.test ANN@example.com fine@example.com
is "$rc" 1 'check exits 1 when a value is suppressed'
is "$(printf '%s\n' "$out" | jq -r '"\(.value)=\(.suppressed)=\(.entry.value // "-")"' | tr '\n' ' ')" \
	'a@sub.blocked.test=true=blocked.test ANN@example.com=true=ann@example.com fine@example.com=false=- ' \
	'a subdomain is covered by its domain; addresses match in any case; the entry is shown'
run suppress check --customer acme fine@example.com x@blocked.test.example
is "$rc $(printf '%s\n' "$out" | jq -c .suppressed | tr '\n' ' ')" '0 false false ' \
	'check exits 0 when no value is suppressed (blocked.test does not cover blocked.test.example)'
run suppress check --customer acme deep.sub.example.org example.org other.org
is "$(printf '%s\n' "$out" | jq -c .suppressed | tr '\n' ' ')" 'true true false ' 'domains can be checked too'
printf 'ann@example.com\n{"value": "z@example.com"}\n' >"$T/check"
run suppress check --customer acme <"$T/check"
is "$rc $(printf '%s\n' "$out" | jq -c .suppressed | tr '\n' ' ')" '1 true false ' 'check reads standard input'
must_fail 65 'check of an invalid value: 65' suppress check --customer acme nope

# Customer scope: acme's entries never answer for beta
run suppress check --customer beta ann@example.com a@sub.blocked.test
is "$rc $(printf '%s\n' "$out" | jq -c .suppressed | tr '\n' ' ')" '0 false false ' \
	"another customer's entries do not suppress"
suppress add --customer beta ann@example.com >/dev/null
is "$(rows suppression_entry "value = 'ann@example.com'")" 2 'two customers may suppress the same address'
run suppress list --customer beta
is "$(printf '%s\n' "$out" | jq -r '"\(.customer_id):\(.value)"')" 'beta:ann@example.com' 'list shows only that customer'
run suppress remove --customer beta ann@example.com
is "$(entries acme | grep -c 'ann@example.com')" 1 "removing beta's entry leaves acme's"

# list: JSON Lines in value order
run suppress list --customer acme
is "$(printf '%s\n' "$out" | jq -r .value | tr '\n' ' ')" \
	"$(sql "SELECT string_agg(value, ' ' ORDER BY value) FROM drip.suppression_entry WHERE customer_id = 'acme'") " \
	'list prints every entry of the customer'
is "$(printf '%s\n' "$out" | head -n 1 | jq -c 'keys')" \
	'["created_at","customer_id","id","kind","reason","source","value"]' 'each with its stored fields'

# remove: prints what it removed; a value that is not there is not an error
run suppress remove --customer acme @blocked.test nothere@example.com
is "$rc $(printf '%s\n' "$out" | jq -r .value)" '0 blocked.test' 'remove prints the removed entries only'
must_fail 0 'the domain no longer suppresses' suppress check --customer acme a@sub.blocked.test
printf 'one@example.net\n{"value": "two@example.net"}\n' | suppress remove --customer acme >"$T/out"
is "$(wc -l <"$T/out" | tr -d ' ') $(rows suppression_entry "value LIKE '%example.net' AND kind = 'address'")" '2 0' \
	'remove reads standard input'
must_fail 65 'remove of an invalid value: 65, nothing removed' suppress remove --customer acme example.org 'x y'
is "$(rows suppression_entry "value = 'example.org'")" 1 'the valid value was not removed either'

# -q: add writes, prints nothing
run suppress add -q --customer acme quiet@example.com
is "$rc:$out:$(rows suppression_entry "value = 'quiet@example.com'")" '0::1' '-q: no output, entry added'
