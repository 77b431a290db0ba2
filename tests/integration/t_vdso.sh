#!/bin/bash
# vdso: clock_gettime/gettimeofday through the vDSO after restore (a wrong
# vDSO/vvar placement crashes the process or gives wrong times).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl vdso
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
vdso_before=$(grep -E '\[(vdso|vvar|vvar_vclock)\]' "/proc/$pid/maps" | awk '{print $1, $6}')
ferry_dump "$pid" "$T/img" || fail "dump failed"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
vdso_after=$(grep -E '\[(vdso|vvar|vvar_vclock)\]' "/proc/$pid/maps" | awk '{print $1, $6}')
[ "$vdso_before" = "$vdso_after" ] || fail "vdso/vvar moved: before [$vdso_before] after [$vdso_after]"
sleep 1.5
stop_and_check vdso "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass"
