#!/bin/bash
# eventfds survive a dump and restore: counters (one above 32 bits),
# semaphore mode, O_NONBLOCK and a dup sharing the description; the workload
# checks them itself afterwards.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl efd
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.3
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.3
stop_and_check efd "$WL_CTL" "$pid" "$RESTORE_PID"
[ "$OK_LINE" = "OK efd a=5 b=0x123456789" ] || fail "unexpected: $OK_LINE"
log "pass"
