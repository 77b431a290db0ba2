#!/bin/bash
# The stream promises that a page may arrive more than once and the last
# copy wins. An image rewritten so that every page first arrives with every
# bit inverted and then with its real content must restore a process whose
# memory verifies (pages land with UFFDIO_COPY first, then are overwritten).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry
tool=$ROOT/build/tools/imgdup
[ -x "$tool" ] || fail "missing $tool (make builds it)"

start_wl mem256 64
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.3
ferry_dump "$pid" "$T/img" || fail "dump failed"
mkdir -p "$T/dup"
"$tool" "$T/img/image.ferry" "$T/dup/image.ferry" || fail "imgdup failed"
orig=$(stat -c %s "$T/img/image.ferry")
dup=$(stat -c %s "$T/dup/image.ferry")
[ "$dup" -gt $((orig * 19 / 10)) ] || fail "rewritten image is not about twice as large ($orig -> $dup)"
wait_gone "$pid" 10 || fail "dumped process still there"
ferry_restore "$T/dup" --stats "$T/stats.json"
wait_restored "$pid" "$RESTORE_PID"
# every page comes twice: the first copies land with UFFDIO_COPY (about half
# of all page writes), the second ones overwrite present pages in place
check_pages_path "$T/stats.json" uffdio_copy 45
[ "$(json_num "$T/stats.json" process_vm_writev)" -gt 0 ] || fail "no page was overwritten in place: $(cat "$T/stats.json")"
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass: $(cat "$T/stats.json")"
