#!/bin/bash
# fifo_swap: the file an image's process had open (filewriter's data file) is
# replaced by a FIFO before the restore. Opening it would block forever;
# `ferry restore` must refuse it at once with one "ferry: restore:" line
# naming the fd, the path and "FIFO", and leave no process behind. With the
# file put back, the same image restores.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

REFUSE_WITHIN_S=10 # the check is a stat: anything close to this is a hang

f=$T/data.txt
start_wl filewriter "$f"
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
ferry_dump "$pid" "$T/img" || fail "dump failed"
lines_at_dump=$(wc -l <"$f")

mv "$f" "$T/data.txt.away"
mkfifo "$f"
t0=$(date +%s)
ferry_restore_sync "$T/img" && fail "restore succeeded although $f is a FIFO"
dt=$(($(date +%s) - t0))
[ "$dt" -lt "$REFUSE_WITHIN_S" ] || fail "restore took ${dt}s to refuse the FIFO"
line=$(cat "$RESTORE_ERR")
[ "$(grep -c . "$RESTORE_ERR")" = 1 ] || fail "expected one stderr line, got: $line"
[[ $line == "ferry: restore: "* ]] || fail "stderr line does not start with 'ferry: restore:': $line"
[[ $line == *"$f"* && $line == *FIFO* && $line == *"fd "* ]] || fail "error does not name fd, path and FIFO: $line"
log "refused in ${dt}s: $line"
wait_gone "$pid" 5 || fail "pid $pid present after the failed restore (state $(pid_state "$pid"))"

rm "$f"
mv "$T/data.txt.away" "$f"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.5
stop_and_check filewriter "$WL_CTL" "$pid" "$RESTORE_PID"
check_numbered_lines "$f" "$lines_at_dump"
log "restored once the file was back ($LINES_CHECKED lines)"
