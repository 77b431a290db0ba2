#!/bin/bash
# SIGKILL to `ferry dump` at every phase: the process it was dumping runs on
# exactly as it was. Deterministic kills at named stall points (FERRY_STALL_AT:
# right after the freeze, between two remote syscalls of the capture, after
# the capture, half-way through the pages of a 1 GiB process, after the image
# is written), then kills at timed moments spread over the page copy. After
# each kill: the process is running, untraced, with the same signal mask,
# pending signals and dispositions; at the end each workload verifies its own
# memory and state, and a last dump of the same process succeeds.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

# What must not change: per thread, blocked / pending / caught / ignored signals.
sig_state() {
	local t
	for t in /proc/"$1"/task/*; do
		awk '/^(SigBlk|SigPnd|ShdPnd|SigCgt|SigIgn):/ {printf "%s %s ", $1, $2} END {print ""}' "$t/status"
	done
}

# kill_at PID POINT [check-sigstate]: dump with FERRY_STALL_AT=POINT, wait
# until ferry reports it stands there, SIGKILL it, check the target.
kill_at() {
	local pid=$1 point=$2 check=${3:-1} before after err dpid
	before=$(sig_state "$pid")
	LIB_SEQ=$((LIB_SEQ + 1))
	err=$T/kill.$LIB_SEQ.err
	FERRY_STALL_AT=$point "$FERRY" dump --pid "$pid" --dir "$T/img.$LIB_SEQ" >/dev/null 2>"$err" &
	dpid=$!
	track_pid "$dpid"
	_stalled() { grep -qx "ferry: stalled at $point" "$err"; }
	wait_until 60 _stalled || fail "ferry never reached stall point $point: $(cat "$err")"
	[ "$(pid_tracer "$pid")" = "$dpid" ] || fail "at $point, pid $pid is not traced by ferry ($dpid)"
	kill -KILL "$dpid"
	wait "$dpid" 2>/dev/null
	wait_until 5 is_running_free "$pid" ||
		fail "SIGKILL at $point: pid $pid state $(pid_state "$pid"), tracer $(pid_tracer "$pid")"
	sleep 0.3
	is_running_free "$pid" || fail "SIGKILL at $point: pid $pid died or stopped afterwards (state $(pid_state "$pid"))"
	if [ "$check" = 1 ]; then
		after=$(sig_state "$pid")
		[ "$before" = "$after" ] || fail "SIGKILL at $point changed the signal state: [$before] -> [$after]"
	fi
	log "SIGKILL at $point: pid $pid runs on unchanged"
}

# 1 GiB, rewritten all the time: every stall point, including half-way through the pages.
start_wl mem256 1024
big=$WL_PID
big_ctl=$WL_CTL
wait_ready "$big_ctl" "$big" 120
for point in frozen capture-rsys captured pages written; do
	kill_at "$big" "$point"
done

# Timed kills spread over the freeze and the page copy (--leave-running, so a
# dump that finishes first leaves the process running as well).
landed=0
for delay in 0 0.01 0.05 0.15 0.3 0.5 0.8; do
	LIB_SEQ=$((LIB_SEQ + 1))
	"$FERRY" dump --pid "$big" --dir "$T/timed.$LIB_SEQ" --leave-running >/dev/null 2>"$T/timed.$LIB_SEQ.err" &
	dpid=$!
	track_pid "$dpid"
	_traced() { [ "$(pid_tracer "$big")" = "$dpid" ] || ! pid_alive "$dpid"; }
	wait_until 10 _traced || fail "timed dump never froze pid $big"
	sleep "$delay"
	if [ "$(pid_tracer "$big")" = "$dpid" ]; then
		landed=$((landed + 1))
	fi
	kill -KILL "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	wait_until 5 is_running_free "$big" ||
		fail "timed SIGKILL after ${delay}s: pid $big state $(pid_state "$big"), tracer $(pid_tracer "$big")"
done
log "timed kills that landed while the process was frozen: $landed of 7"
[ "$landed" -ge 4 ] || fail "only $landed timed kills hit a frozen process: the test did not test its claim"

# Many threads waiting in futexes (restartable syscalls), and a process with
# handlers, a blocked pending SIGUSR2 and nanosleeps: kills during the capture.
start_wl threads8
thr=$WL_PID
thr_ctl=$WL_CTL
wait_ready "$thr_ctl" "$thr"
for point in frozen capture-rsys captured; do
	kill_at "$thr" "$point"
done
start_wl signals
sig=$WL_PID
sig_ctl=$WL_CTL
wait_ready "$sig_ctl" "$sig"
kill -USR2 "$sig"
for point in frozen capture-rsys captured; do
	kill_at "$sig" "$point" 0 # its own handler changes the mask briefly; it checks itself
done

# A dump after all that still works, and every workload verifies itself.
ferry_dump "$big" "$T/final" --leave-running || fail "a dump after the kills failed: $(cat "$DUMP_ERR")"
stop_and_check mem256 "$big_ctl" "$big"
stop_and_check threads8 "$thr_ctl" "$thr"
stop_and_check signals "$sig_ctl" "$sig"
grep -q "usr2pending=1" "$sig_ctl/log" || fail "the pending SIGUSR2 was lost: $(tail -n 3 "$sig_ctl/log")"
log "pass"
