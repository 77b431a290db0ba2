#!/bin/bash
# Post-copy over a link that breaks after the process started on B
# (--retry-for): the link goes down for longer than both sides' --timeout, so
# both see the connection break while pages are still missing; B's process
# waits in its faults, A's copy stays stopped, A connects again through the
# receiver's listener once the link is back, B's RESUME says which pages are
# in place, and the rest follows: the process finishes on B with every page
# verified and the stats count the reconnection. Then the same with the link
# down longer than the window: one line says ferry gave up, A's copy is
# stopped and whole (continued, it verifies its memory at A), B's copy waits
# for its pages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl tc
migrate_setup
receiver_start --key-file "$KEY" --timeout 2 --stats-json "$SH/recv.jsonl"
IF_A=${HOST_IF[A]}

# cut_link SECONDS: the link is down that long, once pid $1 runs in B
cut_link() { # NSPID SECONDS
	wait_until 20 in_b_running "$1" || return
	sleep 0.5
	host_exec A ip link set dev "$IF_A" down
	sleep "$2"
	host_exec A ip link set dev "$IF_A" up
}

# 1. down 5 s, window 30 s: the migration goes on and completes
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
host_tc A 40mbit 64kb 100ms || fail "tc"
cut_link "$pid" 5 &
cutter=$!
ferry_send "$pid" --key-file "$KEY" --mode postcopy --timeout 2 --retry-for 30
wait "$cutter"
[ "$SEND_RC" = 0 ] || fail "send failed across the broken link: $(cat "$SEND_ERR")"
reconnects=$(grep -o '"reconnects":[0-9]*' "$SEND_STATS" | cut -d: -f2)
[ "${reconnects:-0}" -ge 1 ] || fail "no reconnection counted: $(cat "$SEND_STATS")"
tail -n 1 "$SH/recv.jsonl" | grep -q '"reconnects":[1-9]' || fail "B counted no reconnection: $(tail -n 1 "$SH/recv.jsonl")"
wait_until 10 ns_gone A "$pid" || fail "pid $pid still in A after the move"
log "moved across a link down for 5 s: $reconnects reconnection(s), $(json_num "$SEND_STATS" total_ms) ms in all"
finish_in B mem256 "$pid" "$ctl"

# 2. down 12 s, window 4 s: ferry gives up, nothing is lost
wl_start_in_a mem256 64
pid=$WL_NSPID ctl=$WL_CTL
cut_link "$pid" 12 &
cutter=$!
ferry_send "$pid" --key-file "$KEY" --mode postcopy --timeout 2 --retry-for 4
[ "$SEND_RC" != 0 ] || fail "window exceeded: send succeeded"
[ "$(wc -l <"$SEND_ERR")" = 1 ] || fail "window exceeded: not one line: $(cat "$SEND_ERR")"
grep -q "connecting again for 4 s failed" "$SEND_ERR" || fail "window exceeded: $(cat "$SEND_ERR")"
grep -q "pid $pid runs on 10.77.0.2:$PORT without all of its memory" "$SEND_ERR" || fail "window exceeded: $(cat "$SEND_ERR")"
wait "$cutter"
wait_until 15 grep -q "did not connect again within 4 s" "$RECV_ERR" || fail "B did not give up: $(cat "$RECV_ERR")"
log "window exceeded: $(cat "$SEND_ERR")"
held_then_back_in_a "window exceeded" "$pid" "$ctl" mem256
log "pass"
