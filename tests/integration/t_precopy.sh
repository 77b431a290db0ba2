#!/bin/bash
# Pre-copy live migration between two test hosts: the memory is copied
# while the process runs, then rounds of what it wrote since, each with the
# layout as it is then; the process is paused only for the last round.
#   - mem256 rewriting 64 MiB all the time: several rounds, a rule that ended
#     them in the stats, memory verified in B;
#   - a process that mmaps, munmaps, mremaps, MADV_DONTNEEDs, mprotects, grows
#     its brk heap and writes zeros during the rounds (--downtime-limit 0
#     forces every round up to --max-iterations 6): every page verified in B;
#   - --goal 1 ends the rounds after the first by the goal rule;
#   - the receiver killed during the rounds over a shaped link: the source
#     runs on untouched, and a second migration of it succeeds;
#   - SIGINT to ferry send during the rounds: the same.
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

# 1. a process that rewrites its memory all the time
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
ferry_send "$pid" --key-file "$KEY" --mode precopy
[ "$SEND_RC" = 0 ] || fail "mem256: send failed: $(cat "$SEND_ERR")"
[ "$(json_str "$SEND_STATS" mode)" = precopy ] || fail "mem256: not pre-copy: $(cat "$SEND_STATS")"
n=$(rounds_of "$SEND_STATS") rule=$(json_str "$SEND_STATS" rule)
[ "$n" -ge 2 ] || fail "mem256: $n round(s) for a process that keeps writing: $(cat "$SEND_STATS")"
case "$rule" in downtime-limit|max-iterations) ;; *) fail "mem256: rule '$rule'" ;; esac
sent=$(json_num "$SEND_STATS" pages_sent) final=$(json_num "$SEND_STATS" final_pages)
[ "$final" -lt 16384 ] || fail "mem256: the frozen round sent $final pages, all of the memory"
[ "$sent" -gt 16384 ] || fail "mem256: $sent pages sent in all for 64 MiB rewritten all the time"
log "mem256: $n rounds, rule $rule, $sent pages in all, $final frozen, downtime $(json_num "$SEND_STATS" downtime_ms) ms (expected $(json_num "$SEND_STATS" expected_downtime_ms))"
wait_until 10 ns_gone A "$pid" || fail "mem256: still in A"
sleep 0.5
in_b_running "$pid" || fail "mem256: does not run in B"
finish_in B mem256 "$pid" "$ctl"

# 2. the layout changes in every way during the rounds
wl_start_in_a layout 16
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
ferry_send "$pid" --key-file "$KEY" --mode precopy --downtime-limit 0 --max-iterations 6
[ "$SEND_RC" = 0 ] || fail "layout: send failed: $(cat "$SEND_ERR")"
[ "$(rounds_of "$SEND_STATS")" = 6 ] || fail "layout: $(rounds_of "$SEND_STATS") rounds, wanted 6: $(cat "$SEND_STATS")"
[ "$(json_str "$SEND_STATS" rule)" = max-iterations ] || fail "layout: rule $(json_str "$SEND_STATS" rule)"
grep -q "max-iterations reached after 6 rounds" "$SEND_ERR" || fail "layout: the cap was not reported: $(cat "$SEND_ERR")"
grep -q '"downtime_fits":false' "$SEND_STATS" || fail "layout: downtime_fits: $(cat "$SEND_STATS")"
fresh=$(grep -o '"fresh_bytes":[0-9]*' "$SEND_STATS" | sed -n 2p | cut -d: -f2)
[ "$fresh" -gt 0 ] || fail "layout: round 2 found no new mappings: $(cat "$SEND_STATS")"
log "layout: 6 rounds, $(json_num "$SEND_STATS" pages_discarded) pages discarded, round 2 fresh $fresh bytes"
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
( sleep 4; host_pkill B KILL "ferry receive" ) &
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
host_pkill A INT "ferry send --pid $pid"
wait "$s" && fail "SIGINT: send succeeded"
grep -q "interrupted by a signal.*pid $pid runs on here untouched$" "$T/int.err" || fail "SIGINT: $(cat "$T/int.err")"
in_a_running "$pid" || fail "SIGINT: pid $pid is not running freely in A"
wait_until 10 ns_gone B "$pid" || fail "SIGINT: half-built pid $pid left in B"
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
ferry_send "$pid" --key-file "$KEY"
[ "$SEND_RC" = 0 ] || fail "second migration failed: $(cat "$SEND_ERR")"
finish_in B mem256 "$pid" "$ctl"
log "pass: pre-copy moved writers and a changing layout; failures left the source running"
