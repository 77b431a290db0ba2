#!/bin/bash
# dump --leave-running: the process keeps running untouched (not stopped, not
# traced) and finishes OK; then the image restores into a second OK run.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl mem256 64
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
ferry_dump "$pid" "$T/img" --leave-running || fail "dump --leave-running failed"
[ -s "$T/img/image.ferry" ] || fail "no image.ferry"
for i in 1 2 3 4 5; do
	is_running_free "$pid" || fail "after dump --leave-running: state $(pid_state "$pid"), TracerPid $(pid_tracer "$pid")"
	sleep 0.1
done
# it must still make progress: its CPU time grows
u0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep 0.5
u1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
[ "$u1" -gt "$u0" ] || fail "process does not run after dump --leave-running (utime+stime $u0 -> $u1)"
log "original still running (State $(pid_state "$pid"), TracerPid $(pid_tracer "$pid"))"
touch "$WL_CTL/stop"
wait_exit "$pid" 60 || fail "original did not exit after stop"
[ "$EXIT_RC" = 0 ] || fail "original exited with $EXIT_RC"
check_ok mem256 "$WL_LOG" 1
wait_gone "$pid" 10 || fail "pid $pid still present"

# second life from the image (taken before stop was requested)
rm -f "$WL_CTL/stop"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 1
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID" 2
log "pass"
