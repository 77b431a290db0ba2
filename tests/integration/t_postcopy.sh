#!/bin/bash
# Post-copy live migration between two test hosts: the process starts on B
# after its state but before its private writable memory crossed (the
# stream before the start is a small fraction of the memory); B fetches the
# pages its threads fault on while A pushes the rest; A's stopped copy goes
# only once every page is in place. Each workload verifies its own memory
# (every word of every page), threads and signals on B afterwards; the
# stats count faults, pages asked for and pushed. Then the receiver is
# killed during post-copy: B's process waits for its pages, A's copy stays
# stopped, and continuing it runs the process on at A, memory intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl
migrate_setup
receiver_start --key-file "$KEY" --stats-json "$SH/recv.jsonl"

post_one() { # NAME ARGS..
	local name=$1
	shift
	wl_start_in_a "$name" "$@"
	local nspid=$WL_NSPID ctl=$WL_CTL
	sleep 0.5
	ferry_send "$nspid" --key-file "$KEY" --mode postcopy
	[ "$SEND_RC" = 0 ] || fail "$name: send failed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone A "$nspid" || fail "$name: pid $nspid still in A after the move"
	in_b_running "$nspid" || fail "$name: pid $nspid does not run in B"
	[ "$(json_str "$SEND_STATS" mode)" = postcopy ] || fail "$name: not postcopy: $(cat "$SEND_STATS")"
	local lazy total req push
	lazy=$(json_num "$SEND_STATS" pages_lazy)
	total=$(json_num "$SEND_STATS" pages_total)
	req=$(json_num "$SEND_STATS" pages_requested)
	push=$(json_num "$SEND_STATS" pages_pushed)
	[ "$lazy" -gt 0 ] && [ "$lazy" = "$total" ] || fail "$name: lazy $lazy, total $total: $(cat "$SEND_STATS")"
	[ $((req + push)) = "$total" ] || fail "$name: $req asked + $push pushed != $total: $(cat "$SEND_STATS")"
	log "$name: moved with $lazy pages left behind ($req asked for, $push pushed), $(json_num "$SEND_STATS" downtime_ms) ms paused"
	sleep 1
	in_b_running "$nspid" || fail "$name: pid $nspid died in B after the move"
	finish_in B "$name" "$nspid" "$ctl"
}

[ -n "${PC_ONLY:-}" ] || post_one mem256 64
# the restart came before the memory: the stream up to the start is far smaller
[ -n "${PC_ONLY:-}" ] || sent=$(json_num "$SEND_STATS" page_bytes)
[ -n "${PC_ONLY:-}" ] || [ "$sent" -lt $((8 << 20)) ] || fail "mem256: $sent bytes of pages before the start"
[ -n "${PC_ONLY:-}" ] || post_one threads8
post_one dirtier 64 5000 random
tail -n 3 "$SH/recv.jsonl" | grep -q '"postcopy":{"pages_total":' || fail "receiver stats: $(tail -n 1 "$SH/recv.jsonl")"
faults=$(tail -n 1 "$SH/recv.jsonl" | grep -o '"faults":[0-9]*' | cut -d: -f2)
[ "$faults" -gt 0 ] || fail "the dirtier faulted on no page in B: $(tail -n 1 "$SH/recv.jsonl")"
log "pass: $(tail -n 1 "$SH/recv.jsonl" | grep -o '"postcopy":{[^}]*}[^}]*}')"

# The receiver dies during post-copy over a slow link: B's process waits in
# its faults (it holds its own userfaultfd: never zeros where data
# belongs), A keeps its copy stopped and one line says so; killing B's copy
# and continuing A's runs the process on at A with all of its memory.
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
host_tc A 50mbit 64kb 100ms || fail "tc"
( wait_until 20 in_b_running "$pid" && sleep 1 && host_pkill B -KILL "ferry receive" ) &
ferry_send "$pid" --key-file "$KEY" --mode postcopy
[ "$SEND_RC" != 0 ] || fail "receiver killed: send succeeded"
[ "$(wc -l <"$SEND_ERR")" = 1 ] || fail "receiver killed: not one line: $(cat "$SEND_ERR")"
grep -q "pid $pid runs on 10.77.0.2:$PORT without all of its memory" "$SEND_ERR" || fail "receiver killed: $(cat "$SEND_ERR")"
[ "$(host_exec A awk '/^State:/ {print $2}' "/proc/$pid/status")" = T ] || fail "receiver killed: pid $pid is not stopped in A"
host_exec B test -e "/proc/$pid" || fail "receiver killed: pid $pid is gone from B"
waits=$(host_exec B cat "/proc/$pid/wchan")
[ "$waits" = handle_userfault ] || fail "receiver killed: pid $pid in B waits in '$waits', not for its pages"
log "receiver killed in post-copy: $(cat "$SEND_ERR"); B's copy waits in $waits"
host_exec B kill -KILL "$pid"
wait_until 10 ns_gone B "$pid" || fail "cannot kill pid $pid in B"
host_exec A kill -CONT "$pid"
# nsenter (the test's way into host A) stopped itself with its child: continue it too
kill -CONT "$(ps -o ppid= -p "$WL_GPID" | tr -d ' ')" 2>/dev/null
wait_until 5 in_a_running "$pid" || fail "pid $pid does not run again in A"
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
finish_in A mem256 "$pid" "$ctl"
log "pass"
