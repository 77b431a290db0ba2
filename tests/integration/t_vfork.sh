#!/bin/bash
# vfork: a process stuck in vfork() shares its address space with its child
# until the child execs or exits.  ferry must refuse both, before stopping
# anything: the parent (ptrace could not even stop it until the child lets
# go, so a freeze would hang) and the child (its memory is the parent's).
# Each refusal is one exact line and comes at once; afterwards neither is
# traced, and when the child exits the parent finds the child's write in its
# memory and finishes with its OK line and stops=0.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

PROMPT_MS=10000 # a refusal after the freeze would hang until CTL/stop
SHARED="ferry cannot restore a shared address space yet"

start_wl tree vfork
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
child=$(cat "$WL_CTL/child")
[ "$(pid_ppid "$child")" = "$pid" ] || fail "vfork child $child is not pid $pid's child"
# the parent waits in vfork (D), its child runs its own loop
[ "$(pid_state "$pid")" = D ] || fail "parent $pid is in state $(pid_state "$pid"), expected D (in vfork)"
cmd="$WL_BIN $WL_CTL vfork" # the child's command line is the parent's: same memory

check_refusal() { # WHO PID OTHER
	local who=$1 p=$2 other=$3 t0 ms line want
	t0=$(date +%s%N)
	ferry_dump "$p" "$T/img.$who"
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$DUMP_RC" != 0 ] || fail "$who: dump of pid $p succeeded, expected a refusal"
	[ "$ms" -lt "$PROMPT_MS" ] || fail "$who: the refusal took $ms ms"
	[ "$(grep -c . "$DUMP_ERR")" = 1 ] || fail "$who: expected one stderr line, got: $(cat "$DUMP_ERR")"
	line=$(cat "$DUMP_ERR")
	want="ferry: dump: pid $p shares its address space (vfork or CLONE_VM) with 1 other process: $(described "$other" "$cmd"): $SHARED"
	[ "$line" = "$want" ] || fail "$who: wrong refusal
   got: $line
  want: $want"
	log "$who: refused in $ms ms: $line"
	for q in "$pid" "$child"; do
		[ "$(pid_tracer "$q")" = 0 ] || fail "$who: pid $q is traced after the refusal"
		pid_alive "$q" || fail "$who: pid $q is gone"
	done
}
check_refusal parent "$pid" "$child"
check_refusal child "$child" "$pid"
[ "$(pid_state "$pid")" = D ] || fail "parent left vfork early: state $(pid_state "$pid")"

touch "$WL_CTL/stop"
wait_exit "$pid" 60 || fail "workload did not exit after stop"
[ "$EXIT_RC" = 0 ] || fail "workload exited with $EXIT_RC: $(tail -n 3 "$WL_LOG")"
check_ok tree "$WL_LOG"
[ "$OK_LINE" = "OK tree mode=vfork iters=0 stops=0" ] || fail "unexpected OK line (stopped?): $OK_LINE"
log "pass"
