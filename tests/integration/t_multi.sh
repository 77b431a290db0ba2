#!/bin/bash
# The same process dumped and restored 3 times in a row (mem256 and threads8).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

for w in "mem256 64" "threads8"; do
	set -- $w
	name=$1
	start_wl "$@"
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid"
	prev=""
	for round in 1 2 3; do
		sleep 0.7
		tasks_before=$(ls "/proc/$pid/task" | sort -n | tr '\n' ' ')
		ferry_dump "$pid" "$T/img.$name.$round" || fail "$name: dump $round failed"
		if [ -n "$prev" ]; then
			wait_exit "$prev" 15 || fail "previous ferry restore still running after its process was dumped"
			log "previous ferry restore exited with $EXIT_RC"
		fi
		ferry_restore "$T/img.$name.$round"
		wait_restored "$pid" "$RESTORE_PID"
		tasks_after=$(ls "/proc/$pid/task" | sort -n | tr '\n' ' ')
		[ "$tasks_before" = "$tasks_after" ] || fail "$name round $round: tids [$tasks_before] -> [$tasks_after]"
		prev=$RESTORE_PID
	done
	sleep 0.5
	stop_and_check "$name" "$WL_CTL" "$pid" "$RESTORE_PID"
done
log "pass"
