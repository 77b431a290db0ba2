#!/bin/bash
# A real threaded program: `xz -T2` (a main thread and two compressing
# threads, a pipe to itself) compressing ~103 MB of seeded word salad, moved
# five times while it works (real_lib.sh: dumped and restored in host A,
# then sent to B and back with pre-copy, stop-and-copy, post-copy and
# hybrid). Its output must be byte-identical
# with an uninterrupted run (sha256) and pass `xz -t`.
. "$(dirname "$0")/real_lib.sh"
require_cmd xz perl sha256sum
real_setup

IN=$SH/in.txt
OUT=$SH/xz.out
XZ=(xz -T2 -1 -c "$IN")
# 2 M lines of 8 words from a seeded vocabulary of 5000: compressible, not trivially
perl -e 'srand(42); my @w = map { join "", map { chr(97 + int rand 26) } 1 .. 2 + int rand 8 } 1 .. 5000;
	print join(" ", map { $w[rand @w] } 1 .. 8), "\n" for 1 .. 2000000' >"$IN" || fail "generating the input"
t0=$(date +%s%N)
"${XZ[@]}" >"$T/ref.xz" </dev/null || fail "reference xz"
refsize=$(stat -c %s "$T/ref.xz")
refsum=$(sha256sum <"$T/ref.xz" | cut -d' ' -f1)
log "reference: $(stat -c %s "$IN") -> $refsize bytes in $((($(date +%s%N) - t0) / 1000000)) ms"

real_start_in_a xz "${XZ[@]}"
_threads() { [ "$(host_exec A ls "/proc/$REAL_NSPID/task" 2>/dev/null | wc -l)" -ge 3 ]; }
wait_until 10 _threads || fail "xz -T2 does not run 3 threads"
pct=10
for step in "${REAL_STEPS[@]}"; do
	_partway() { [ "$(stat -c %s "$OUT")" -ge $((refsize * pct / 100)) ] || _real_exited; }
	wait_until 60 _partway || fail "xz makes no progress in $REAL_HOST"
	! _real_exited || fail "xz finished before the move '$step' (machine too fast? enlarge the input)"
	log "$step: xz has written $(stat -c %s "$OUT") of $refsize bytes"
	real_move "$step"
	pct=$((pct + 15))
done
real_wait_exit 120
[ ! -s "$SH/xz.err" ] || fail "xz wrote to stderr: $(cat "$SH/xz.err")"
sum=$(sha256sum <"$OUT" | cut -d' ' -f1)
[ "$sum" = "$refsum" ] || fail "output differs from the uninterrupted run: sha256 $sum ($(stat -c %s "$OUT") bytes), expected $refsum ($refsize bytes)"
xz -t "$OUT" || fail "xz -t refuses the output"
log "pass: output identical after ${#REAL_STEPS[@]} moves ($refsize bytes, sha256 $refsum)"
