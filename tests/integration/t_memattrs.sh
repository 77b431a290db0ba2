#!/bin/bash
# mlock'd ranges (mlock, mlock2 MLOCK_ONFAULT) and madvise state
# (DONTFORK, DONTDUMP, WIPEONFORK, HUGEPAGE, NOHUGEPAGE, MERGEABLE, RANDOM)
# survive a dump and restore: the workload finds the same VmFlags in smaps
# and the same VmLck in status, every byte as written, and its parent-death
# signal (ferry restore stays its parent). The test also compares VmLck
# from outside, before and after.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

vmlck() { awk '/^VmLck:/ { print $2 }' "/proc/$1/status"; }
start_wl memattrs
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
before=$(vmlck "$pid")
[ "$before" -ge 2048 ] || fail "VmLck $before kB before the dump: the workload locked nothing?"
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
after=$(vmlck "$pid")
[ "$after" = "$before" ] || fail "VmLck $after kB after the restore, $before kB before"
stop_and_check memattrs "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass: VmLck $before kB; $OK_LINE"
