#!/bin/bash
# mem256: 256 MiB rewritten continuously; dump -> kill -> restore on the same
# host -> stop -> OK, same pid, same process state; on this kernel the pages
# land with UFFDIO_COPY (restore stats).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl mem256 256
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 1
proc_snapshot "$pid" "$T/before"
ferry_dump "$pid" "$T/img" || fail "dump failed"
[ -s "$T/img/image.ferry" ] || fail "no image.ferry in $T/img"
log "image size $(du -sh "$T/img" | cut -f1)"
ferry_restore "$T/img" --stats "$T/stats.json"
wait_restored "$pid" "$RESTORE_PID"
check_pages_path "$T/stats.json" uffdio_copy
proc_snapshot "$pid" "$T/after"
proc_compare "$T/before" "$T/after"
sleep 1
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
case "$OK_LINE" in *"pages=65535 "* | *"pages=65536 "*) ;; *) fail "unexpected page count: $OK_LINE" ;; esac
log "pass"
