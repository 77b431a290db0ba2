#!/bin/bash
# ferry check: exits 0 (restore possible on this machine) and prints features.
. "$(dirname "$0")/lib.sh"
require_ferry
timeout 30 "$FERRY" check >"$T/check.out" 2>"$T/check.err"
rc=$?
cat "$T/check.out" "$T/check.err"
[ "$rc" = 0 ] || fail "ferry check exited $rc"
[ -s "$T/check.out" ] || fail "ferry check printed nothing"
log "pass"
