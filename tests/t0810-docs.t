#!/bin/bash
# Every tool keeps its paperwork: a man page that mandoc finds clean, a
# usage text identical to the page's SYNOPSIS, a line in drip(7), and
# completions for bash, zsh and fish that know its options.
. "$(dirname "$0")/lib.sh"
tools=$(make -s -C "$DRIP_TOP" print-tools)
set -- $tools
plan $(( $# * 6 + 4 ))

lint=$(mandoc -Tlint -Wwarning "$DRIP_TOP"/man/*.[1-9] 2>&1)
is "$lint" '' 'mandoc -Tlint reports nothing above style level on any page'

synopsis() {	# page: the SYNOPSIS as one line
	MANWIDTH=500 mandoc -Tascii -O width=500 "$1" | col -b | awk '
		/^[A-Z][A-Z ]*$/ { s = ($0 == "SYNOPSIS"); next }
		s' | tr -s ' \n\t' '   ' | sed 's/^ //; s/ $//'
}
usage_line() {	# tool: --help as one line, without "usage:"
	"$1" --help | sed 's/^usage: //; s/^       //' | tr -s ' \n\t' '   ' | sed 's/^ //; s/ $//'
}

for t in $tools; do
	page=$DRIP_TOP/man/$t.1
	ok "$t has a man page" test -f "$page"
	is "$(usage_line "$t")" "$(synopsis "$page")" "$t --help matches the SYNOPSIS of $t(1)"
	ok "$t is listed in drip(7)" grep -q "^\.It Xr $t 1$" "$DRIP_TOP/man/drip.7"
	ok "$t has a zsh completion" grep -q "^#compdef $t" "$DRIP_TOP/completions/zsh/_$t"
	ok "$t has a fish completion" grep -q "^complete -c $t " "$DRIP_TOP/completions/fish/$t.fish"
	# bash: load the completion and ask what a Tab after "--" offers
	offered=$(bash -c '
		. "$1"; COMP_WORDS=("$2" --); COMP_CWORD=1; COMP_LINE="$2 --"; COMP_POINT=${#COMP_LINE}
		f=$(complete -p "$2" | sed -E "s/.*-F ([^ ]+).*/\1/"); "$f" "$2" -- "$2"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$DRIP_TOP/completions/bash/$t" "$t" | sort | tr '\n' ' ')
	like "$offered" '--help .*--version' "bash completes $t's long options (--help, --version, ...)"
done

# A few Tabs a user would press: subcommands, fixed values, a prefix.
tab() {	# tool word... : what bash offers after the last word
	bash -c '
		t=$1; shift; . "$0"; COMP_WORDS=("$t" "$@"); COMP_CWORD=$#
		f=$(complete -p "$t" | sed -E "s/.*-F ([^ ]+).*/\1/")
		"$f" "$t" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' "$DRIP_TOP/completions/bash/$1" "$@" | tr '\n' ' '
}
like "$(tab suppress '')" '^add remove list check ' 'suppress <Tab> offers add, remove, list, check'
like "$(tab events --type '')" 'sent failed bounced suppressed deferred replied unsubscribed' \
	'events --type <Tab> offers the event types'
is "$(tab prospect-import --c)" '--campaign --csv ' 'prospect-import --c<Tab> offers --campaign and --csv'
