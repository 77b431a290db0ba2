#!/bin/bash
# Pipes survive a dump and restore with the data buffered in them: a pipe
# the workload streams 64-bit counters through (~48 KiB buffered at the
# dump, 128 KiB pipe, O_NONBLOCK, its read end dup'd), a packet-mode pipe
# with three packets, a FIFO with 9 bytes. The dump with --leave-running
# must leave the buffered data where it was (the workload checks every
# value it reads); the restored workload streams on from where it was
# (values read after the restore) and finds every buffer as it was.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl pipes
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.3
ferry_dump "$pid" "$T/img0" --leave-running || fail "dump --leave-running failed: $(cat "$DUMP_ERR")"
sleep 0.3
is_running_free "$pid" || fail "pid $pid does not run on after --leave-running"
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
at_dump=$(cat "$WL_CTL/count")
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
_streamed() { [ "$(cat "$WL_CTL/count")" -gt "$((at_dump + 100000))" ]; }
wait_until 20 _streamed || fail "the restored workload does not stream through its pipe (count $(cat "$WL_CTL/count"), $at_dump at the dump)"
stop_and_check pipes "$WL_CTL" "$pid" "$RESTORE_PID"
case "$OK_LINE" in "OK pipes values="*" packets=3 fifo=9") ;; *) fail "unexpected: $OK_LINE" ;; esac
log "pass: $OK_LINE (count at dump $at_dump)"
