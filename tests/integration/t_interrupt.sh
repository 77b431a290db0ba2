#!/bin/bash
# SIGINT / SIGTERM to `ferry dump` while it copies a 1 GiB process: the dump
# stops, says so in one line, leaves no image, and the process runs on
# untouched: not stopped, not traced, same signal mask and /proc state, still
# making progress, and its memory verifies when it stops.
# A signal sent after the freeze may still come too late (the dump already
# finished): then the image is restored and verified (nothing may be lost)
# and the case is retried with an earlier signal, a bounded number of times.
# Each signal needs at least one real interrupted dump, or the test fails.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

WL_MIB=1024
# seconds between seeing the freeze and signalling, one per attempt
DELAYS=(0.1 0.02 0 0)

# traced PID: TracerPid != 0, read with builtins only (a tight poll). The
# file is taken in one read(): `while read` reads it a line per read() at the
# offset the previous line ended, and /proc regenerates the text each time,
# so when the State line shrinks in between ("t (tracing stop)" becomes
# "R (running)" each time ferry resumes the thread for a remote syscall) the
# next line is read from 5 bytes into it, "TracerPid:" is never seen, and a
# traced process looks untraced ("dump never froze").
traced() {
	local s t
	read -r -d '' s 2>/dev/null <"/proc/$1/status"
	t=${s#*TracerPid:}
	t=${t%%$'\n'*}
	[ "$t" != "$s" ] && [ "${t//[[:space:]]/}" != 0 ]
}
# cpu_ticks PID: utime + stime
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# one_attempt SIG DELAY: 0 = a real interrupted dump, checked; 2 = the signal
# came too late (the image was restored and checked instead)
one_attempt() {
	local sig=$1 delay=$2 pid dpid blk_before blk_after t0 t1 i
	start_wl mem256 "$WL_MIB"
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid" 120
	sleep 0.3
	blk_before=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")
	proc_snapshot "$pid" "$T/before.$sig"
	rm -rf "$T/img.$sig"
	"$FERRY" dump --pid "$pid" --dir "$T/img.$sig" >"$T/dump.$sig.out" 2>"$T/dump.$sig.err" &
	dpid=$!
	track_pid "$dpid"
	# wait until the target is frozen (traced), then interrupt the copy
	for ((i = 0; i < 200000; i++)); do
		traced "$pid" && break
		pid_alive "$dpid" || break
	done
	traced "$pid" || fail "dump never froze pid $pid"
	[ "$delay" = 0 ] || sleep "$delay"
	kill -"$sig" "$dpid"
	wait_exit "$dpid" 30 || fail "ferry dump did not end after SIG$sig"
	if [ "$EXIT_RC" = 0 ]; then
		log "SIG$sig ${delay}s after the freeze came too late: the dump finished; restoring the image"
		wait_gone "$pid" 10 || fail "dumped process still there"
		ferry_restore "$T/img.$sig"
		wait_restored "$pid" "$RESTORE_PID"
		stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
		return 2
	fi
	grep -qx 'ferry: dump: interrupted by a signal; the process was resumed untouched' "$T/dump.$sig.err" ||
		fail "unexpected message after SIG$sig (rc $EXIT_RC): $(cat "$T/dump.$sig.err")"
	[ "$(wc -l <"$T/dump.$sig.err")" = 1 ] || fail "more than one line on stderr: $(cat "$T/dump.$sig.err")"
	[ ! -e "$T/img.$sig/image.ferry" ] || fail "an interrupted dump left an image behind"
	for i in 1 2 3 4 5; do
		is_running_free "$pid" || fail "after SIG$sig: state $(pid_state "$pid"), tracer $(pid_tracer "$pid")"
		sleep 0.1
	done
	blk_after=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")
	[ "$blk_before" = "$blk_after" ] || fail "signal mask changed: $blk_before -> $blk_after"
	proc_snapshot "$pid" "$T/after.$sig"
	proc_compare "$T/before.$sig" "$T/after.$sig"
	# still working: it rewrites its memory without pause, so it uses CPU
	t0=$(cpu_ticks "$pid")
	sleep 0.5
	t1=$(cpu_ticks "$pid")
	[ "$t1" -gt "$t0" ] || fail "after SIG$sig pid $pid used no CPU in 0.5 s (ticks $t0 -> $t1)"
	stop_and_check mem256 "$WL_CTL" "$pid"
	log "SIG$sig ${delay}s after the freeze: dump interrupted cleanly, process intact ($OK_LINE)"
	return 0
}

for sig in INT TERM; do
	real=0
	for delay in "${DELAYS[@]}"; do
		one_attempt "$sig" "$delay"
		rc=$?
		[ "$rc" = 0 ] && real=1 && break
		[ "$rc" = 2 ] || fail "attempt ended with $rc"
	done
	[ "$real" = 1 ] || fail "SIG$sig: the dump finished before the signal in all ${#DELAYS[@]} attempts; no interrupted dump was checked"
done
log "pass"
