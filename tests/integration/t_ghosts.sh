#!/bin/bash
# memfds and a file deleted while open survive a dump and restore: names,
# sizes, sparse contents, seals, mode, flags, offsets and a shared offset
# (the workload checks every byte itself), and so does its removed working
# directory. A deleted file larger than
# --ghost-limit is refused at dump, naming the fd and both sizes, before the
# process is stopped; with a larger limit the same process is dumped.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

wl_dump_restore ghosts
sleep 0.3
stop_and_check ghosts "$WL_CTL" "$WL_PID" "$RESTORE_PID"
log "restored: $OK_LINE"

# 2 MiB deleted file: above the default 1 MiB
start_wl ghosts $((2 << 20))
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
fd=$(for f in /proc/$pid/fd/*; do [[ $(readlink "$f") == *"/ghost (deleted)" ]] && basename "$f"; done | head -n1)
[ -n "$fd" ] || fail "no deleted file among the fds of $pid"
ferry_dump "$pid" "$T/img.big" && fail "a 2 MiB deleted file was dumped with the default --ghost-limit"
want="ferry: dump: fd $fd ($WL_CTL/ghost (deleted)) is a deleted file of 2097152 bytes, above --ghost-limit (1048576 bytes)"
[ "$(cat "$DUMP_ERR")" = "$want" ] || fail "wrong refusal
   got: $(cat "$DUMP_ERR")
  want: $want"
is_running_free "$pid" || fail "the refused dump left $pid $(pid_state "$pid")"
ferry_dump "$pid" "$T/img.big" --ghost-limit 3M || fail "dump with --ghost-limit 3M failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img.big"
wait_restored "$pid" "$RESTORE_PID"
stop_and_check ghosts "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass: 2 MiB deleted file refused by default, restored with --ghost-limit 3M"
