#!/bin/bash
# A real program: gzip of a ~275 MB file, checkpointed partway, restored, and
# its output must be byte-identical with an uninterrupted run.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd gzip seq cmp
require_ferry

on_cleanup "rm -f '$T/in.txt' '$T/ref.gz' '$T/out.gz'"
seq 1000000000 1025000000 >"$T/in.txt" || fail "generating input"
t0=$(date +%s%N)
gzip -c -6 "$T/in.txt" >"$T/ref.gz" </dev/null || fail "reference gzip"
t1=$(date +%s%N)
refsize=$(stat -c %s "$T/ref.gz")
log "reference: $(stat -c %s "$T/in.txt") -> $refsize bytes in $(((t1 - t0) / 1000000)) ms"

setsid gzip -c -6 "$T/in.txt" >"$T/out.gz" 2>"$T/gzip.err" </dev/null &
pid=$!
track_pid "$pid"
# wait until it is partway: 15% .. 60% of the output written
_partway() { [ "$(stat -c %s "$T/out.gz")" -ge $((refsize * 15 / 100)) ] || ! pid_alive "$pid"; }
wait_until 60 _partway || fail "gzip makes no progress"
pid_alive "$pid" || fail "gzip finished before the dump (machine too fast? enlarge the input)"
at=$(stat -c %s "$T/out.gz")
log "dumping gzip pid $pid with $at bytes written"
ferry_dump "$pid" "$T/img" || fail "dump failed"
[ "$(stat -c %s "$T/out.gz")" -lt "$refsize" ] || fail "gzip had already finished at dump time"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
wait_exit "$RESTORE_PID" 120 || fail "restored gzip did not finish in 120 s"
[ "$EXIT_RC" = 0 ] || fail "restored gzip exited with $EXIT_RC: $(cat "$T/gzip.err" "$RESTORE_ERR")"
cmp "$T/ref.gz" "$T/out.gz" || fail "output differs from the reference"
gzip -t "$T/out.gz" || fail "output is not a valid gzip file"
log "pass: output identical ($refsize bytes)"
