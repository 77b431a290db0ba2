#!/bin/bash
# eventfds survive a dump and restore: counters (one above 32 bits),
# semaphore mode, O_NONBLOCK and a dup sharing the description; the workload
# checks them itself afterwards.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

wl_dump_restore efd
sleep 0.3
stop_and_check efd "$WL_CTL" "$WL_PID" "$RESTORE_PID"
[ "$OK_LINE" = "OK efd a=5 b=0x123456789" ] || fail "unexpected: $OK_LINE"
log "pass"
