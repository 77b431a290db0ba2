#!/bin/bash
# A program that raises SIGTRAP at itself all the time, with a handler: 20
# dumps with --leave-running, then a dump and restore, and not one SIGTRAP is
# lost or its handler reset (a SIGTRAP pending at the freeze is passed on,
# not taken for ferry's own stop; ferry itself never raises one).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl trapper
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
for i in $(seq 20); do
	ferry_dump "$pid" "$T/img.$i" --leave-running || fail "dump $i failed: $(cat "$DUMP_ERR")"
	rm -rf "$T/img.$i"
done
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.3
stop_and_check trapper "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass: $OK_LINE"
