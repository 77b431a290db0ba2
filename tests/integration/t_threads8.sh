#!/bin/bash
# threads8: 8 threads (mutex, condvar, barrier); tids must survive restore and
# pthread_join must work afterwards.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl threads8
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
tasks_before=$(ls "/proc/$pid/task" | sort -n | tr '\n' ' ')
[ "$(echo $tasks_before | wc -w)" = 9 ] || fail "expected 9 tasks, got: $tasks_before"
proc_snapshot "$pid" "$T/before"
ferry_dump "$pid" "$T/img" || fail "dump failed"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
tasks_after=$(ls "/proc/$pid/task" | sort -n | tr '\n' ' ')
[ "$tasks_before" = "$tasks_after" ] || fail "tids differ: before [$tasks_before] after [$tasks_after]"
log "tids identical: $tasks_after"
proc_snapshot "$pid" "$T/after"
proc_compare "$T/before" "$T/after"
# progress after restore: the counter must move
sleep 1
stop_and_check threads8 "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass"
