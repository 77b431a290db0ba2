#!/bin/bash
# signals: handler + flags + mask survive; SIGUSR1 from outside is delivered,
# SIGUSR2 (blocked) stays pending, also when it was already pending at the
# dump (pending signals travel in the image).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl signals
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
kill -USR2 "$pid" || fail "kill -USR2"
sleep 0.1
proc_snapshot "$pid" "$T/before"
ferry_dump "$pid" "$T/img" || fail "dump failed"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
proc_snapshot "$pid" "$T/after"
proc_compare "$T/before" "$T/after"
shd=$(awk '/^ShdPnd:/ {print $2}' "/proc/$pid/status")
(( 0x$shd & 0x800 )) || fail "SIGUSR2 pending before the dump is not pending after the restore (ShdPnd $shd)"
for i in 1 2 3; do
	kill -USR1 "$pid" || fail "kill -USR1"
	sleep 0.3
done
kill -USR2 "$pid" || fail "kill -USR2"
sleep 0.3
shd=$(awk '/^ShdPnd:/ {print $2}' "/proc/$pid/status")
# SIGUSR2 = 12 -> bit 11 -> 0x800 in the shared pending mask
(( 0x$shd & 0x800 )) || fail "SIGUSR2 not pending in /proc (ShdPnd $shd)"
stop_and_check signals "$WL_CTL" "$pid" "$RESTORE_PID"
case "$OK_LINE" in *"usr2pending=1"*) ;; *) fail "SIGUSR2 not pending at the end: $OK_LINE" ;; esac
case "$OK_LINE" in *" ext=3 "*) ;; *) fail "expected 3 external SIGUSR1: $OK_LINE" ;; esac
log "pass"
