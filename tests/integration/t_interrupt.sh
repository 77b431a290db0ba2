#!/bin/bash
# SIGINT / SIGTERM to `ferry dump` while it copies a 1 GiB process: the dump
# stops, says so in one line, and the process runs on untouched (not
# stopped, not traced, no signal left blocked) and its memory verifies.
# A signal that lands before the freeze or after the end is also fine as long
# as no process is left frozen; each case is checked for what it is.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

for sig in INT TERM; do
	start_wl mem256 1024
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid" 120
	sleep 0.3
	blk_before=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")
	"$FERRY" dump --pid "$pid" --dir "$T/img.$sig" >"$T/dump.$sig.out" 2>"$T/dump.$sig.err" &
	dpid=$!
	track_pid "$dpid"
	# wait until the target is frozen (traced), then interrupt the copy
	_frozen() { [ "$(pid_tracer "$pid")" != 0 ]; }
	wait_until 10 _frozen || fail "dump never froze pid $pid"
	kill -"$sig" "$dpid"
	wait_exit "$dpid" 30 || fail "ferry dump did not end after SIG$sig"
	if [ "$EXIT_RC" = 0 ]; then
		log "SIG$sig arrived after the dump finished: restoring the image instead"
		wait_gone "$pid" 10 || fail "dumped process still there"
		ferry_restore "$T/img.$sig"
		wait_restored "$pid" "$RESTORE_PID"
		stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
		continue
	fi
	grep -q '^ferry: dump: interrupted by a signal; the process was resumed untouched$' "$T/dump.$sig.err" ||
		fail "unexpected message after SIG$sig: $(cat "$T/dump.$sig.err")"
	[ "$(wc -l <"$T/dump.$sig.err")" = 1 ] || fail "more than one line on stderr: $(cat "$T/dump.$sig.err")"
	[ ! -e "$T/img.$sig/image.ferry" ] || fail "an interrupted dump left an image behind"
	for i in 1 2 3 4 5; do
		is_running_free "$pid" || fail "after SIG$sig: state $(pid_state "$pid"), tracer $(pid_tracer "$pid")"
		sleep 0.1
	done
	blk_after=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")
	[ "$blk_before" = "$blk_after" ] || fail "signal mask changed: $blk_before -> $blk_after"
	stop_and_check mem256 "$WL_CTL" "$pid"
	log "SIG$sig: dump interrupted cleanly"
done
log "pass"
