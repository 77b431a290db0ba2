#!/bin/bash
# refuse: a process holding something ferry cannot checkpoint yet (each kind
# README lists: a pipe whose other end is another process's, an established
# TCP connection, a unix socket with an fd in flight (SCM_RIGHTS), a userfaultfd watched by an epoll set (both named), a shared
# mapping of a memfd holding more than 48 MiB whose fd is closed, such a memfd, a deleted directory,
# System V shared memory and shared anonymous memory also mapped by a child)
# must make `ferry dump` fail with exit != 0 and
# exactly one stderr line "ferry: dump: ..." naming the fd number or the
# address range and the kind; the refusal must come before the process is
# stopped (its stop detector counts no ptrace stop: stops=0), and the process
# must be left running untouched (not stopped, not traced, still making
# progress) and finish with its OK line.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

# kind MODE: how ferry names the kind it refuses
kind() {
	case $1 in
	uffd) echo "an anonymous-inode object watched by epoll fd $(cat "$WL_CTL/epoll")" ;;
	memfd) echo 'a memfd with more than 48 MiB of data' ;;
	bigmemfd) echo 'a memfd with more than 48 MiB of data' ;;
	deleted) echo 'a deleted directory' ;;
	sysvshm) echo 'System V shared memory also attached by another process' ;;
	sharedmem) echo 'shared anonymous memory also mapped by another process' ;;
	esac
}

# expected_line MODE PID INFO: the exact refusal, built from what /proc shows
expected_line() {
	local mode=$1 pid=$2 info=$3 fd range name
	case $mode:$info in
	pipe:fds*)
		fd=${info#fds }
		echo "ferry: dump: fd $fd ($(readlink "/proc/$pid/fd/$fd")) is a pipe whose writing end is outside the process: declare it with --external fd:$fd (restore hands it a replacement with --inherit-fd $fd:FD)"
		;;
	scmrights:fds*)
		fd=$(echo ${info#fds } | tr ' ' '\n' | sort -n | tail -n1) # the socket the fd is in flight to
		echo "ferry: dump: unix socket fd $fd ($(readlink "/proc/$pid/fd/$fd")) has file descriptors queued in it (SCM_RIGHTS): not supported yet"
		;;
	socket:fds*)
		fd=$(echo ${info#fds } | tr ' ' '\n' | sort -n | head -n1)
		echo "ferry: dump: established TCP connection fd $fd: not supported yet"
		;;
	*:fds*)
		fd=$(echo ${info#fds } | tr ' ' '\n' | sort -n | head -n1) # fds are checked in ascending order
		echo "ferry: dump: fd $fd ($(readlink "/proc/$pid/fd/$fd")) is $(kind "$mode"): ferry cannot restore it yet"
		;;
	*:range*)
		range=${info#range }
		name=$(awk -v r="$range" '$1 == r { for (i = 6; i <= NF; i++) printf "%s%s", (i > 6 ? " " : ""), $i }' "/proc/$pid/maps")
		[ -n "$name" ] || fail "$mode: range $range not in /proc/$pid/maps"
		echo "ferry: dump: mapping $range ($name) is $(kind "$mode"): ferry cannot restore it yet"
		;;
	esac
}

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

run_mode() {
	local mode=$1 pid info err line want i child="" u0 u1
	start_wl refuse "$mode"
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid"
	info=$(cat "$WL_CTL/info") || fail "$mode: no info file"
	if [ "$mode" = sharedmem ] || [ "$mode" = pipe ]; then
		child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
		child=${child%% *}
		[ -n "$child" ] || fail "$mode: workload has no child"
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
	want=$(expected_line "$mode" "$pid" "$info")
	[ "$line" = "$want" ] || fail "$mode: wrong refusal
   got: $line
  want: $want"
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
	[[ $OK_LINE == *" stops=0" ]] || fail "$mode: the process was stopped although the dump was refused: $OK_LINE"
	if [ -n "$child" ]; then
		wait_gone "$child" 10 || fail "$mode: child $child still present"
	fi
}

for m in pipe socket scmrights uffd memfd deleted sysvshm sharedmem bigmemfd; do
	run_mode "$m"
done
log "pass"
