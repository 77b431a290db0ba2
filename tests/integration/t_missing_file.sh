#!/bin/bash
# missing_file: the file an image's process had open (filewriter's data file)
# is renamed away before the restore: `ferry restore` must fail with exit != 0
# and one "ferry: restore:" line naming the missing path, and must leave no
# process with the saved pid behind.  With the file renamed back, the same
# image restores and the workload continues its numbering without a gap.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

f=$T/data.txt
start_wl filewriter "$f"
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
ferry_dump "$pid" "$T/img" || fail "dump failed"
lines_at_dump=$(wc -l <"$f")

mv "$f" "$T/data.txt.away"
ferry_restore_sync "$T/img" && fail "restore succeeded although $f is missing"
[ "$RESTORE_RC" != 124 ] || fail "restore timed out"
[ "$(grep -c . "$RESTORE_ERR")" = 1 ] || {
	cat "$RESTORE_ERR"
	fail "expected exactly one stderr line from the failed restore, got $(grep -c . "$RESTORE_ERR")"
}
line=$(cat "$RESTORE_ERR")
[[ $line == "ferry: restore: "* ]] || fail "stderr line does not start with 'ferry: restore:': $line"
[[ $line == *"$f"* ]] || fail "restore error does not name the missing path $f: $line"
log "refused: $line"

# a failed restore leaves no process behind: right after ferry exited and
# ~1 s later the pid is gone, or at most a zombie waiting to be reaped (init
# reaps orphans only every ~2 s here), never a live stub or workload
pid_is_ours() {
	local cmd exe
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
	case "$cmd $exe" in *filewriter* | *ferry* | *"$T"*) return 0 ;; esac
	return 1
}
for when in "right after the failed restore" "1 s after the failed restore"; do
	st=$(pid_state "$pid")
	log "$when: pid $pid state $st"
	case $st in
	- | Z | X) ;;
	*) pid_is_ours && fail "pid $pid is still alive $when (state $st, exe $(readlink "/proc/$pid/exe" 2>/dev/null))" ;;
	esac
	[ "$when" = "right after the failed restore" ] && sleep 1
done
wait_gone "$pid" 5 || { pid_is_ours && fail "pid $pid still present 6 s after the failed restore (state $(pid_state "$pid"))"; }
[ "$(wc -l <"$T/data.txt.away")" = "$lines_at_dump" ] || fail "the file changed during the failed restore"

mv "$T/data.txt.away" "$f"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.5
stop_and_check filewriter "$WL_CTL" "$pid" "$RESTORE_PID"
check_numbered_lines "$f" "$lines_at_dump"
n=$LINES_CHECKED
log "file has lines 1..$n in order ($lines_at_dump at dump time)"
