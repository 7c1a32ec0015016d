#!/bin/sh
# man-examples.sh PAGE: print the commands of PAGE's EXAMPLES section, one
# per line, as a reader would type them: the page is rendered by mandoc (so
# its escapes are what the reader sees), and every line of a display that
# starts with "$ " is a command ("\" at the end continues it). Lines
# without "$ " are output shown to the reader, and are not run. In the
# page's source a continuation is written "\e" at the end of the line.
# Each command is run with bash -o pipefail, so a failure before a pipe
# counts.
MANWIDTH=200 mandoc -Tascii -O width=200 "$1" | col -b | awk '
	/^[A-Z][A-Z ]*$/ { in_ex = ($0 == "EXAMPLES"); next }
	!in_ex { next }
	cont { line = line "\n" $0; if ($0 !~ /\\$/) { print line; cont = 0 }; next }
	/^[ \t]+\$ / {
		sub(/^[ \t]+\$ /, "")
		if ($0 ~ /\\$/) { line = $0; cont = 1 } else print
	}'
