#!/bin/bash
# Post-copy of a process that forks while its memory is still on its way
# (a slow link keeps pages missing for seconds): each child gets a
# userfaultfd of its own from the kernel (UFFD_EVENT_FORK), lacking what its
# parent lacked at the fork; B fills it too, from the same pages A sends.
# The forker workload's children check every page they inherited, write a
# tenth of them and check again; some fork a grandchild that checks too,
# some exec at once (their memory goes: B drops it). No child may read a
# zero page where data belongs. Then the same in hybrid mode. Then the
# link breaks for longer than --retry-for: B gives up and kills the
# children still waiting for pages (closing their userfaultfd would make
# them read zeros), the process itself waits, and A's copy, continued,
# finishes with its memory verified.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_ferry
require_cmd tc
migrate_setup # requires the hosts and openssl
receiver_start --key-file "$KEY" --stats-json "$SH/recv.jsonl"

# go_when_in_b NSPID CTL: the workload starts forking once it runs in B
go_when_in_b() { wait_until 30 in_b_running "$1" && touch "$2/go"; }

fork_one() { # MODE [SEND OPTS..]
	local mode=$1
	shift
	wl_start_in_a forker 48 50
	local pid=$WL_NSPID ctl=$WL_CTL
	host_tc A 40mbit 64kb 100ms || fail "tc"
	go_when_in_b "$pid" "$ctl" &
	local starter=$!
	ferry_send "$pid" --key-file "$KEY" --mode "$mode" "$@"
	wait "$starter"
	host_exec A tc qdisc del dev "${HOST_IF[A]}" root 2>/dev/null
	[ "$SEND_RC" = 0 ] || fail "$mode: send failed: $(cat "$SEND_ERR")"
	wait_until 10 grep -q "\"pid\":$pid," "$SH/recv.jsonl" || fail "$mode: no receiver stats for pid $pid"
	sleep 0.5
	in_b_running "$pid" || fail "$mode: pid $pid died in B after the move"
	# nothing stays registered: a child that stays holds the userfaultfd
	# it inherited, and a mapping left registered to it would make the
	# process's next MADV_DONTNEED wait for a reader gone
	local kid um
	for kid in $pid $(host_exec B cat "/proc/$pid/task/$pid/children"); do
		um=$(host_exec B grep -c ' um' "/proc/$kid/smaps" 2>/dev/null)
		[ "${um:-0}" = 0 ] || fail "$mode: pid $kid in B still has $um mapping(s) registered after post-copy"
	done
	finish_in B forker "$pid" "$ctl"
	log "$mode: $(tail -n 1 "$ctl/log")"
	# the children forked while pages were missing, and got pages from B
	local st forks forked
	st=$T/recv.$mode.json
	grep "\"pid\":$pid," "$SH/recv.jsonl" | tail -n 1 >"$st"
	forks=$(json_num "$st" forks)
	forked=$(json_num "$st" pages_forked)
	[ "${forks:-0}" -ge 2 ] || fail "$mode: B followed ${forks:-no} fork(s) during post-copy (see $st)"
	[ "${forked:-0}" -gt 0 ] || fail "$mode: no page went into a child (see $st)"
	log "$mode: $forks forks followed during post-copy, $forked pages placed into children, $(json_num "$SEND_STATS" total_ms) ms in all"
}

fork_one postcopy
fork_one hybrid --postcopy-after 1

# the link down for 10 s, the window 3 s
IF_A=${HOST_IF[A]}
wl_start_in_a forker 48 50
pid=$WL_NSPID ctl=$WL_CTL
host_tc A 40mbit 64kb 100ms || fail "tc"
cut_link() {
	wait_until 30 in_b_running "$pid" && touch "$ctl/go" || return
	sleep 2 # children forked, waiting for pages
	host_exec A ip link set dev "$IF_A" down
	sleep 10
	host_exec A ip link set dev "$IF_A" up
}
cut_link &
cutter=$!
ferry_send "$pid" --key-file "$KEY" --mode postcopy --timeout 2 --retry-for 3
[ "$SEND_RC" != 0 ] || fail "window exceeded: send succeeded"
wait_until 15 grep -q "did not connect again within 3 s" "$RECV_ERR" || fail "B did not give up: $(cat "$RECV_ERR")"
grep -q "killing pid [0-9]*, forked during post-copy" "$RECV_ERR" || fail "no child killed: $(cat "$RECV_ERR")"
log "B: $(grep -c "killing pid" "$RECV_ERR") child(ren) killed: $(grep "killing pid" "$RECV_ERR" | head -n 1)"
# no child of the process runs on in B: each is killed (a zombie its
# waiting parent cannot reap) or was never registered (exec)
for kid in $(host_exec B cat "/proc/$pid/task/$pid/children"); do
	state=$(host_exec B awk '/^State:/ {print $2}' "/proc/$kid/status" 2>/dev/null)
	case "$state" in Z | "") ;; *) host_exec B grep -q ' um' "/proc/$kid/smaps" &&
		fail "child $kid of $pid in B runs on with memory missing (state $state)" ;; esac
done
sleep 1
! grep "page [0-9]* word" "$ctl/log" || fail "a child in B read wrong memory once B gave up"
wait "$cutter"
held_then_back_in_a "window exceeded" "$pid" "$ctl" forker
log "pass"
