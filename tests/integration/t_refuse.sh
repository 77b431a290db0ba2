#!/bin/bash
# refuse: a process holding something ferry cannot checkpoint yet (a pipe, a
# UNIX socketpair, an eventfd, a memfd, shared anonymous memory also mapped by
# a child) must make `ferry dump` fail with exit != 0 and exactly one stderr
# line "ferry: dump: ..." naming the fd number or the address range and the
# kind; the process must be left running untouched (not stopped, not traced,
# still making progress) and finish with its OK line.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

# kind_re MODE: what the message must say about the kind
kind_re() {
	case $1 in
	pipe) echo 'is a pipe' ;;
	socket) echo 'is a socket' ;;
	eventfd) echo 'anon_inode:\[eventfd\].*anonymous-inode' ;;
	memfd) echo 'memfd:refuse.*is a memfd' ;;
	sharedmem) echo 'shared anonymous memory also mapped by another process' ;;
	posixtimer) echo 'has POSIX timers \(timer_create\)' ;;
	esac
}

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

run_mode() {
	local mode=$1 pid info err line loc i child="" u0 u1
	start_wl refuse "$mode"
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid"
	info=$(cat "$WL_CTL/info") || fail "$mode: no info file"
	if [ "$mode" = sharedmem ]; then
		child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
		child=${child%% *}
		[ -n "$child" ] || fail "sharedmem: workload has no child"
	fi
	sleep 0.2

	ferry_dump "$pid" "$T/img.$mode" && fail "$mode: ferry dump succeeded, expected a refusal"
	[ "$DUMP_RC" != 124 ] || fail "$mode: ferry dump timed out"
	err=$DUMP_ERR
	[ "$(grep -c . "$err")" = 1 ] || {
		cat "$err"
		fail "$mode: expected exactly one stderr line from the failed dump, got $(grep -c . "$err")"
	}
	line=$(cat "$err")
	[[ $line == "ferry: dump: "* ]] || fail "$mode: stderr line does not start with 'ferry: dump:': $line"
	echo "$line" | grep -Eq "$(kind_re "$mode")" || fail "$mode: message does not name the kind ($(kind_re "$mode")): $line"
	case $info in
	fds*)
		loc=0
		for i in ${info#fds }; do
			echo "$line" | grep -Eq "\\bfd $i\\b" && loc=1
		done
		[ "$loc" = 1 ] || fail "$mode: message does not name fd ${info#fds } : $line"
		;;
	range*)
		echo "$line" | grep -Fq "${info#range }" || fail "$mode: message does not name the range ${info#range }: $line"
		;;
	esac
	log "$mode: refused: $line"
	[ ! -e "$T/img.$mode/image.ferry" ] || fail "$mode: the refused dump left an image behind ($T/img.$mode/image.ferry)"

	# the process (and the child) are left alone
	for i in 1 2 3 4 5; do
		is_running_free "$pid" || fail "$mode: after the refused dump: state $(pid_state "$pid"), TracerPid $(pid_tracer "$pid")"
		if [ -n "$child" ]; then
			is_running_free "$child" || fail "$mode: child $child: state $(pid_state "$child"), TracerPid $(pid_tracer "$child")"
		fi
		sleep 0.1
	done
	u0=$(cpu_ticks "$pid")
	sleep 0.5
	u1=$(cpu_ticks "$pid")
	[ "$u1" -gt "$u0" ] || fail "$mode: process does not run after the refused dump (utime+stime $u0 -> $u1)"
	is_running_free "$pid" || fail "$mode: state $(pid_state "$pid"), TracerPid $(pid_tracer "$pid")"

	touch "$WL_CTL/stop"
	wait_exit "$pid" 60 || fail "$mode: workload did not exit after stop"
	[ "$EXIT_RC" = 0 ] || {
		tail -n 5 "$WL_LOG"
		fail "$mode: workload exited with $EXIT_RC"
	}
	check_ok refuse "$WL_LOG"
	[[ $OK_LINE == "OK refuse mode=$mode "* ]] || fail "unexpected OK line: $OK_LINE"
	if [ -n "$child" ]; then
		wait_gone "$child" 10 || fail "sharedmem: child $child still present"
	fi
}

for m in pipe socket eventfd memfd sharedmem posixtimer; do
	run_mode "$m"
done
log "pass"
