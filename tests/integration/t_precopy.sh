#!/bin/bash
# Pre-copy live migration between two test hosts: the memory is copied
# while the process runs, then rounds of what it wrote since, each with the
# layout as it is then; the process is paused only for the last round.
#   - a process writing 2000 random pages/s over a 400 Mbit/s link: several rounds, ended by the
#     downtime limit, a small frozen round, memory verified in B;
#   - mem256 rewriting all its memory faster than the link: --max-iterations
#     ends the rounds, and says so, memory verified in B;
#   - a process that mmaps, munmaps, mremaps, MADV_DONTNEEDs, mprotects, grows
#     its brk heap and writes zeros during the rounds (--downtime-limit 0:
#     rounds until the cap or until the estimate stops falling): every page
#     verified in B;
#   - --goal 1 ends the rounds after the first by the goal rule;
#   - the receiver killed during the rounds over a shaped link: the source
#     runs on untouched, and a second migration of it succeeds;
#   - SIGINT to ferry send during the rounds: the same;
#   - the process exits on its own during the rounds: one line says so, and
#     B keeps nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl tc
backend=$("$FERRY" check 2>&1 | grep -o "dirty tracking for pre-copy: .*" | cut -d: -f2-)
case "$backend" in *uffd_wp*|*soft_dirty*) ;; *) skip "this kernel tracks no written pages (ferry check:$backend)" ;; esac
migrate_setup
receiver_start --key-file "$KEY" --stats-json "$SH/recv.jsonl"

rounds_of() { grep -o '"round":[0-9]*' "$1" | wc -l; }

# 1. a process writing 2000 random pages/s over a 400 Mbit/s link: round 1
# takes ~1.4 s, the next ones less, until the rest fits 50 ms
wl_start_in_a dirtier 64 2000 random
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
host_tc A 400mbit 64kb 100ms || fail "tc"
ferry_send "$pid" --key-file "$KEY" --mode precopy
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
[ "$SEND_RC" = 0 ] || fail "dirtier: send failed: $(cat "$SEND_ERR")"
[ "$(json_str "$SEND_STATS" mode)" = precopy ] || fail "dirtier: not pre-copy: $(cat "$SEND_STATS")"
n=$(rounds_of "$SEND_STATS") rule=$(json_str "$SEND_STATS" rule)
[ "$n" -ge 2 ] || fail "dirtier: $n round(s) for a process that keeps writing: $(cat "$SEND_STATS")"
[ "$rule" = downtime-limit ] || fail "dirtier: rule '$rule': $(cat "$SEND_STATS")"
grep -q '"downtime_fits":true' "$SEND_STATS" || fail "dirtier: downtime_fits: $(cat "$SEND_STATS")"
final=$(json_num "$SEND_STATS" final_pages)
[ "$final" -lt 4096 ] || fail "dirtier: the frozen round sent $final pages of 16384"
log "dirtier: $n rounds, rule $rule, $(json_num "$SEND_STATS" pages_sent) pages in all, $final frozen, downtime $(json_num "$SEND_STATS" downtime_ms) ms (expected $(json_num "$SEND_STATS" expected_downtime_ms))"
wait_until 10 ns_gone A "$pid" || fail "dirtier: still in A"
sleep 0.5
in_b_running "$pid" || fail "dirtier: does not run in B"
finish_in B dirtier "$pid" "$ctl"

# a writer faster than the link never converges: the cap ends the rounds,
# the frozen round sends it all, and the memory is intact in B
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
ferry_send "$pid" --key-file "$KEY" --max-iterations 3
[ "$SEND_RC" = 0 ] || fail "mem256: send failed: $(cat "$SEND_ERR")"
[ "$(json_str "$SEND_STATS" rule)" = max-iterations ] || fail "mem256: rule $(json_str "$SEND_STATS" rule)"
[ "$(rounds_of "$SEND_STATS")" = 3 ] || fail "mem256: $(rounds_of "$SEND_STATS") rounds"
grep -q "max-iterations reached after 3 rounds; the pause will be about" "$SEND_ERR" || fail "mem256: cap not reported: $(cat "$SEND_ERR")"
wait_until 10 ns_gone A "$pid" || fail "mem256: still in A"
finish_in B mem256 "$pid" "$ctl"

# 2. the layout changes in every way during the rounds
# a step every 0.5 ms: mappings replaced between a collect and the next
# layout read, pieces mprotect'ed and back, reads that fail half-way
wl_start_in_a layout 16 500
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
ferry_send "$pid" --key-file "$KEY" --mode precopy --downtime-limit 0 --max-iterations 6
[ "$SEND_RC" = 0 ] || fail "layout: send failed: $(cat "$SEND_ERR")"
n=$(rounds_of "$SEND_STATS") rule=$(json_str "$SEND_STATS" rule)
# a limit of 0 never fits: the cap, or the estimate that stops falling, ends the rounds
[ "$n" -ge 3 ] || fail "layout: $n rounds: $(cat "$SEND_STATS")"
case "$rule" in max-iterations|no-progress) ;; *) fail "layout: rule $rule" ;; esac
grep -q "the pause will be about" "$SEND_ERR" || fail "layout: the early switch was not reported: $(cat "$SEND_ERR")"
grep -q '"downtime_fits":false' "$SEND_STATS" || fail "layout: downtime_fits: $(cat "$SEND_STATS")"
fresh=$(grep -o '"fresh_bytes":[0-9]*' "$SEND_STATS" | sed -n 2p | cut -d: -f2)
[ "$fresh" -gt 0 ] || fail "layout: round 2 found no new mappings: $(cat "$SEND_STATS")"
disc=$(grep -o '"pages_discarded":[0-9]*' "$SEND_STATS" | tail -n1 | cut -d: -f2)
[ "$disc" -gt 0 ] || fail "layout: no page was discarded after MADV_DONTNEED and zero writes: $(cat "$SEND_STATS")"
log "layout: $n rounds ($rule), $disc pages discarded, round 2 fresh $fresh bytes"
wait_until 10 ns_gone A "$pid" || fail "layout: still in A"
finish_in B layout "$pid" "$ctl"

# 3. --goal
wl_start_in_a threads8
pid=$WL_NSPID ctl=$WL_CTL
ferry_send "$pid" --key-file "$KEY" --downtime-limit 0 --goal 1
[ "$SEND_RC" = 0 ] || fail "goal: send failed: $(cat "$SEND_ERR")"
[ "$(json_str "$SEND_STATS" rule)" = goal ] || fail "goal: rule $(json_str "$SEND_STATS" rule)"
[ "$(rounds_of "$SEND_STATS")" = 1 ] || fail "goal: $(rounds_of "$SEND_STATS") rounds"
finish_in B threads8 "$pid" "$ctl"

# 4. the receiver dies during the rounds; 5. SIGINT to ferry send
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
blk=$(host_exec A awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")
host_tc A 200mbit 64kb 100ms || fail "tc"
( sleep 4; host_pkill B -KILL "ferry receive" ) &
ferry_send "$pid" --key-file "$KEY" --downtime-limit 0 --max-iterations 50
[ "$SEND_RC" != 0 ] || fail "receiver killed: send succeeded"
[ "$(wc -l <"$SEND_ERR")" = 1 ] || fail "receiver killed: not one line: $(cat "$SEND_ERR")"
grep -q "pid $pid runs on here untouched$" "$SEND_ERR" || fail "receiver killed: $(cat "$SEND_ERR")"
in_a_running "$pid" || fail "receiver killed: pid $pid is not running freely in A"
[ "$(host_exec A awk '/^SigBlk:/ {print $2}' "/proc/$pid/status")" = "$blk" ] || fail "receiver killed: mask changed"
wait_until 10 ns_gone B "$pid" || fail "receiver killed: half-built pid $pid left in B"
log "receiver killed in the rounds: $(cat "$SEND_ERR")"
receiver_start --key-file "$KEY"
host_exec A timeout -k 5 60 "$FERRY" send --pid "$pid" --to "10.77.0.2:$PORT" --key-file "$KEY" \
	--downtime-limit 0 --max-iterations 50 </dev/null >/dev/null 2>"$T/int.err" &
s=$!
sleep 3
host_pkill A -INT "ferry send --pid $pid"
wait "$s" && fail "SIGINT: send succeeded"
grep -q "interrupted by a signal.*pid $pid runs on here untouched$" "$T/int.err" || fail "SIGINT: $(cat "$T/int.err")"
in_a_running "$pid" || fail "SIGINT: pid $pid is not running freely in A"
wait_until 10 ns_gone B "$pid" || fail "SIGINT: half-built pid $pid left in B"
# 6. the process exits on its own during the rounds: one line says so
wl_start_in_a dirtier 64 1000 random
xp=$WL_NSPID xctl=$WL_CTL
( sleep 3; touch "$xctl/stop" ) &
ferry_send "$xp" --key-file "$KEY" --downtime-limit 0 --max-iterations 50
[ "$SEND_RC" != 0 ] || fail "exit during pre-copy: send succeeded"
[ "$(wc -l <"$SEND_ERR")" = 1 ] || fail "exit during pre-copy: not one line: $(cat "$SEND_ERR")"
grep -q "pid $xp exited during pre-copy; the migration was abandoned$" "$SEND_ERR" || fail "exit during pre-copy: $(cat "$SEND_ERR")"
wait_until 10 ns_gone B "$xp" || fail "exit during pre-copy: half-built pid $xp left in B"
check_ok dirtier "$xctl/log"
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
ferry_send "$pid" --key-file "$KEY"
[ "$SEND_RC" = 0 ] || fail "second migration failed: $(cat "$SEND_ERR")"
finish_in B mem256 "$pid" "$ctl"
log "pass: pre-copy moved writers and a changing layout; failures left the source running"
