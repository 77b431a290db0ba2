#!/bin/bash
# filewriter: O_APPEND writer + dup (shared description) + reader fd with its
# own offset; after restore the numbering continues without gap or duplicate.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

f=$T/data.txt
start_wl filewriter "$f"
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 1
proc_snapshot "$pid" "$T/before"
ferry_dump "$pid" "$T/img" || fail "dump failed"
lines_at_dump=$(wc -l <"$f")
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
proc_snapshot "$pid" "$T/after"
proc_compare "$T/before" "$T/after"
sleep 1
stop_and_check filewriter "$WL_CTL" "$pid" "$RESTORE_PID"
check_numbered_lines "$f" "$lines_at_dump"
n=$LINES_CHECKED
[ "$(stat -c %s "$f")" = $((n * 14)) ] || fail "file size $(stat -c %s "$f") != $n*14"
log "file has lines 1..$n in order ($lines_at_dump at dump time)"
