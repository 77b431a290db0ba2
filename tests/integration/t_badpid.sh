#!/bin/bash
# Clean failures: dump of a nonexistent pid; restore while the pid is taken by
# a running process, unrelated (placed there with ns_last_pid: failing to do
# so fails the test) or the restored process itself: the one-line message
# says the pid is taken, the running process is left untouched.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

# 1. nonexistent pid
max=$(cat /proc/sys/kernel/pid_max)
nopid=$((max - 7))
while [ -e "/proc/$nopid" ]; do nopid=$((nopid - 1)); done
ferry_dump "$nopid" "$T/none" && fail "dump of nonexistent pid $nopid succeeded"
[ "$(cat "$DUMP_ERR")" = "ferry: dump: no process with pid $nopid" ] ||
	fail "nonexistent pid: expected one line 'ferry: dump: no process with pid $nopid', got: $(head -c 300 "$DUMP_ERR")"

# an image to play with
start_wl mem256 16
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.3
ferry_dump "$pid" "$T/img" || fail "dump failed"

# check_taken_line: the failed restore said, in one line, that the pid is
# taken by a running process (newer ferry names it: "... by the running
# process PID (CMD)")
check_taken_line() {
	local want="ferry: restore: pid $pid is taken (by a running process in this pid namespace|in this pid namespace by the running process $pid \\(.+\\))"
	[ "$(grep -c . "$RESTORE_ERR")" = 1 ] && grep -Eqx "$want" "$RESTORE_ERR" ||
		fail "expected one line '$want', got: $(head -c 300 "$RESTORE_ERR")"
}

# start_time PID: field 22 of /proc/PID/stat (identity of a process)
start_time() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# 2. pid taken by an unrelated process (placed there with ns_last_pid; other
# processes may grab the pid first, so a few tries; not managing is a failure:
# the case this test exists for did not run)
occ=""
for try in 1 2 3 4 5 6 7 8 9 10; do
	if [ -e "/proc/$pid" ]; then # someone else took it: wait for it to go
		sleep 0.2
		continue
	fi
	echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid || fail "cannot write /proc/sys/kernel/ns_last_pid"
	sleep 1000 </dev/null >/dev/null 2>&1 &
	p=$!
	track_pid "$p"
	if [ "$p" = "$pid" ]; then
		occ=$p
		break
	fi
	log "try $try: sleep got pid $p, not $pid"
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
[ -n "$occ" ] || fail "could not place a process at pid $pid with ns_last_pid in 10 tries"
st0=$(start_time "$occ")
ferry_restore_sync "$T/img" && fail "restore succeeded although pid $pid is taken by sleep"
check_taken_line
is_running_free "$occ" || fail "occupying process disturbed: state $(pid_state "$occ") tracer $(pid_tracer "$occ")"
[ "$(start_time "$occ")" = "$st0" ] || fail "occupying process was replaced"
[ "$(readlink "/proc/$occ/exe")" = "$(readlink -f "$(command -v sleep)")" ] || fail "pid $occ is no longer sleep"
log "pid taken by sleep: refused ($(grep '^ferry:' "$RESTORE_ERR" | head -n1))"
kill "$occ"
wait "$occ" 2>/dev/null
wait_gone "$occ" 5 || fail "sleep did not go away"

# 3. pid taken by the restored process itself: a second restore must fail
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
first=$RESTORE_PID
st0=$(start_time "$pid")
ferry_restore_sync "$T/img" && fail "second restore of the same image succeeded"
check_taken_line
is_running_free "$pid" || fail "running process disturbed: state $(pid_state "$pid") tracer $(pid_tracer "$pid")"
[ "$(start_time "$pid")" = "$st0" ] || fail "running process was replaced"
[ "$(pid_ppid "$pid")" = "$first" ] || fail "running process has a new parent"
RESTORE_PID=$first
sleep 0.3
stop_and_check mem256 "$WL_CTL" "$pid" "$first"
log "pass"
