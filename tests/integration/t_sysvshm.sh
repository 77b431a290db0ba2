#!/bin/bash
# System V shared memory attached by the process alone survives a dump and
# restore: ids, key, sizes, modes, owner, contents, two attaches of one
# segment, a read-only attach and a removed (IPC_RMID) segment; the
# workload checks them itself (sysvshm.c). The dump removes the segment
# the process had not removed (it lives in the image now), and the
# restore makes it again with its id and key.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl sysvshm
wait_ready "$WL_CTL" "$WL_PID"
key=$(printf '%08x' $((0x46520000 + (WL_PID & 0xffff))))
seg() { awk -v k="$((16#$key))" 'NR > 1 && $1 == k' /proc/sysvipc/shm; }
[ -n "$(seg)" ] || fail "no segment with key 0x$key: $(cat /proc/sysvipc/shm)"
sleep 0.3
ferry_dump "$WL_PID" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
_gone() { [ -z "$(seg)" ]; }
wait_until 10 _gone || fail "the segment with key 0x$key outlived the dump: $(seg)"
ferry_restore "$T/img"
wait_restored "$WL_PID" "$RESTORE_PID"
[ -n "$(seg)" ] || fail "the restore did not make the segment with key 0x$key again"
sleep 0.3
stop_and_check sysvshm "$WL_CTL" "$WL_PID" "$RESTORE_PID"
log "pass: restored: $OK_LINE"
