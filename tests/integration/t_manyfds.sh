#!/bin/bash
# manyfds: a process with ~300 fds (two SCM_RIGHTS messages of the
# restore's fd passing), a hole, high numbers up to 4001, dups sharing a
# description with a far fd, mixed access modes and close-on-exec: after
# dump/restore exactly the same fds are open, on the same files, with the
# same flags and offsets (checked from inside and from /proc). Its dense
# range covers the number the restore stub's socket has, so the socket must
# move out of the way; 4000 and 4001 are too far above 1500 to fill the
# numbers between, so they are placed with dup3 (ferry -vv says both).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4096 ] || skip "RLIMIT_NOFILE hard limit $hard is below 4096"

mkdir -p "$T/work"
start_wl manyfds "$T/work"
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
proc_snapshot "$pid" "$T/before"
nfds=$(ls "/proc/$pid/fd" | wc -l)
[ "$nfds" -gt 200 ] || fail "workload has only $nfds fds"
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"

RESTORE_ERR=$T/restore.err
"$FERRY" -vv restore --dir "$T/img" >"$T/restore.out" 2>"$RESTORE_ERR" </dev/null &
RESTORE_PID=$!
track_pid "$RESTORE_PID"
wait_restored "$pid" "$RESTORE_PID"
grep -q "socket moves from fd" "$RESTORE_ERR" || fail "the stub's socket did not collide with a recorded fd: $(grep -i 'fd' "$RESTORE_ERR" | head -n 5)"
log "$(grep -o 'the restore stub.s socket moves from fd [0-9]* to fd [0-9]*' "$RESTORE_ERR")"
[ "$(grep -c "too far above the others .*moved there with dup3" "$RESTORE_ERR")" = 2 ] ||
	fail "fds 4000 and 4001 were not placed with dup3: $(grep -i 'dup3' "$RESTORE_ERR")"
proc_snapshot "$pid" "$T/after"
proc_compare "$T/before" "$T/after"
stop_and_check manyfds "$WL_CTL" "$pid" "$RESTORE_PID"
[[ $OK_LINE == "OK manyfds fds=$nfds" ]] || fail "unexpected OK line (expected fds=$nfds): $OK_LINE"
log "pass"
