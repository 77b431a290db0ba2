#!/bin/bash
# avx: ymm1..15 + r12..r15 checked inside a long asm loop, x87/SSE chains,
# round-toward-zero in MXCSR and the x87 control word.
. "$(dirname "$0")/lib.sh"
require_root
grep -q avx2 /proc/cpuinfo || skip "CPU has no avx2"
require_ferry

start_wl avx
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
for round in 1 2; do
	sleep 0.7
	ferry_dump "$pid" "$T/img$round" || fail "dump $round failed"
	ferry_restore "$T/img$round"
	wait_restored "$pid" "$RESTORE_PID"
	if [ "$round" = 1 ]; then
		# the first restore's ferry exits when the second dump kills the process
		prev=$RESTORE_PID
	fi
done
sleep 0.5
wait_exit "$prev" 10 || fail "first ferry restore did not exit after re-dump"
stop_and_check avx "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass"
