#!/bin/bash
# The man pages (build/man, made by `make` from `ferry --help` with
# man/genman.pl) against the binary: a page for ferry and for every command
# its --help lists; each has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT
# STATUS, EXAMPLES and SEE ALSO; every flag of `ferry [COMMAND] --help` is an
# item of the page's OPTIONS and every flag of its Usage line is in the
# SYNOPSIS; groff formats each page without a warning. A page with one
# option taken out must fail the same check.
. "$(dirname "$0")/lib.sh"
require_ferry
require_cmd man perl
MAN_DIR=${FERRY_MAN_DIR:-$ROOT/build/man}

# render PAGE: the page as man shows it, plain text (no overstrike, no SGR)
render() { MANWIDTH=100 man --nh --nj -l "$1" 2>&1 | sed -e 's/.\x08//g' -e 's/\x1b\[[0-9;]*m//g'; }
# section TEXT NAME: the lines of section NAME of a rendered page
section() { awk -v s="$2" '/^[A-Z][A-Z ]*$/ { on = ($0 == s); next } on' <<<"$1"; }
# help_flags ARGS: the flags the option list of `ferry ARGS --help` defines
help_flags() {
	"$FERRY" "$@" --help | sed -nE 's/^ {2,8}((-[^ ,]+(, )?)+).*/\1/p' | tr ',' ' ' | tr -s ' ' '\n' | grep .
}
usage_flags() { "$FERRY" "$@" --help | sed -n '/^Usage:/,/^$/p' | grep -oE -- '(^|[[ (|])--?[a-z][a-z0-9-]*' | tr -d '[ (|' | sort -u; }

# check_page PAGE ARGS..: prints what is wrong with PAGE for `ferry ARGS --help`
check_page() {
	local page=$1 text s f
	shift
	[ -s "$page" ] || {
		echo "$page: missing (a new command needs man/$(basename "$page").extra with its EXAMPLES; then make man)"
		return
	}
	text=$(render "$page")
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "$s" <<<"$text" || echo "$page: no $s section"
	done
	local opts syn
	opts=$(section "$text" OPTIONS)
	syn=$(section "$text" SYNOPSIS)
	for f in $(help_flags "$@"); do
		grep -qE -- "^ {7}(-[^ ]+, )*$f(,| |$)" <<<"$opts" || echo "$page: $f of --help is not an item of OPTIONS"
	done
	for f in $(usage_flags "$@"); do
		grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$syn" || echo "$page: $f of the Usage line is not in SYNOPSIS"
	done
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null |
		sed "s|^|$page: groff: |"
}

commands=$("$FERRY" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p')
[ "$(wc -w <<<"$commands")" -ge 5 ] || fail "ferry --help lists only '$commands'"
problems=$(
	check_page "$MAN_DIR/ferry.1"
	for c in $commands; do check_page "$MAN_DIR/ferry-$c.1" "$c"; done
)
[ -z "$problems" ] || fail "man pages out of step with --help:
$problems"
for c in ferry $commands; do
	p=$MAN_DIR/ferry-$c.1
	[ "$c" = ferry ] && p=$MAN_DIR/ferry.1
	log "$(basename "$p"): $(grep -c '^\.TP' "$p") items, $(render "$p" | wc -l) lines"
done
# every page names the others (SEE ALSO)
for c in $commands; do
	section "$(render "$MAN_DIR/ferry.1")" "SEE ALSO" | grep -q "ferry-$c(1)" || fail "ferry(1) does not name ferry-$c(1)"
done

# the check itself: ferry-send.1 without its --goal item is caught
perl -0pe 's/\.TP\n\\fB\\-\\-goal\\fR[^\n]*\n(?:[^.][^\n]*\n)*//' "$MAN_DIR/ferry-send.1" >"$T/ferry-send.1"
! grep -q '^\\fB\\-\\-goal' "$T/ferry-send.1" || fail "could not take --goal out of a copy of ferry-send.1"
broken=$(check_page "$T/ferry-send.1" send)
[ "$broken" = "$T/ferry-send.1: --goal of --help is not an item of OPTIONS" ] ||
	fail "a page without --goal was not caught as such: '$broken'"
log "pass: pages for ferry and $(echo $commands) match their --help"
