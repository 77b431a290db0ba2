#!/bin/bash
# POSIX timers survive a dump and restore with their ids (1, 3 and 4, with
# 0 and 2 deleted before), clocks, signals, values, target thread, interval
# and time left: the workload checks each expiry's si_timerid, si_value and
# thread, the interval of the last ones (all after the restore: the stop
# comes 1 s later) and that they still fire, and the time left of a 1000 s
# timer. Twice: with the
# kernel's PR_TIMER_CREATE_RESTORE_IDS, and chasing the ids as on a kernel
# without it (FERRY_RESTORE_NO_TIMER_IDS=1).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

for chase in 0 1; do
	FERRY_RESTORE_NO_TIMER_IDS=$chase wl_dump_restore ptimers
	sleep 1
	stop_and_check ptimers "$WL_CTL" "$WL_PID" "$RESTORE_PID"
	[[ $OK_LINE =~ ^OK\ ptimers\ a=[0-9]+\ b=[0-9]+$ ]] || fail "unexpected: $OK_LINE"
	log "ids chased: $chase: $OK_LINE"
done
log "pass"
