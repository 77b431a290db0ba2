#!/bin/bash
# A program in the middle of a shell pipeline (gen | relay | sink, 64-bit
# counters, each stage checking the sequence) is moved with
# `dump --external fd:0 --external fd:1` and `restore --shell-job --inherit-fd 0:5
# --inherit-fd 1:6`, fds 5 and 6 being the same two pipes opened again
# through /proc (held by the test meanwhile, so gen gets no EPIPE and sink
# no end of input). Without --external the dump is refused naming fd 0.
# After the restore the counters flow on: sink reads every value gen wrote,
# in order, none lost or twice.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

bin=$(wl_path relay) || fail "cannot build relay"
for s in gen mid sink; do mkdir -p "$T/$s"; done
setsid bash -c "'$bin' '$T/gen' gen | '$bin' '$T/mid' relay | '$bin' '$T/sink' sink" </dev/null 2>>"$T/pipeline.log" &
track_pid $!
for s in gen mid sink; do
	wait_ready "$T/$s" "" 20
	eval "${s}_pid=$READY_PID"
	track_pid "$READY_PID"
done
log "gen $gen_pid | relay $mid_pid | sink $sink_pid"
sleep 0.3

ferry_dump "$mid_pid" "$T/img" && fail "dump of a pipeline stage without --external succeeded"
grep -q "^ferry: dump: fd 0 (pipe:\[[0-9]*\]) is a pipe whose writing end is outside the process: declare it with --external fd:0" "$DUMP_ERR" ||
	fail "unexpected refusal: $(cat "$DUMP_ERR")"

exec 5<"/proc/$gen_pid/fd/1" 6>"/proc/$sink_pid/fd/0" # the two pipes, kept open while relay is away
ferry_dump "$mid_pid" "$T/img" --external fd:0 --external fd:1 || fail "dump failed: $(cat "$DUMP_ERR")"
at_dump=$(cat "$T/sink/count")
sleep 0.3
ferry_restore "$T/img" --shell-job --inherit-fd 0:5 --inherit-fd 1:6 # --shell-job: not its session's leader
exec 5<&- 6>&-
wait_restored "$mid_pid" "$RESTORE_PID"
_flowing() { [ "$(cat "$T/sink/count")" -gt "$((at_dump + 200000))" ]; }
wait_until 20 _flowing || fail "counters do not flow after the restore (sink at $(cat "$T/sink/count"), $at_dump at the dump)"

touch "$T/gen/stop" # gen ends, relay sees the end of its input, then sink
wait_gone "$mid_pid" 30 || fail "relay did not finish after gen"
wait_exit "$RESTORE_PID" 30 || fail "ferry restore still runs"
[ "$EXIT_RC" = 0 ] || fail "restored relay exited with $EXIT_RC: $(cat "$T/pipeline.log")"
wait_gone "$sink_pid" 30 || fail "sink did not finish"
check_ok relay "$T/pipeline.log" 3
gen=$(grep -o "^OK relay gen values=[0-9]*" "$T/pipeline.log") || fail "no result from gen"
n=${gen##*=}
grep -q "^OK relay relay values=$n$" "$T/pipeline.log" || fail "relay did not pass all $n values: $(grep '^OK' "$T/pipeline.log")"
grep -q "^OK relay sink values=$n$" "$T/pipeline.log" || fail "sink did not get all $n values: $(grep '^OK' "$T/pipeline.log")"
log "pass: $n values through the moved relay ($at_dump at the dump)"
