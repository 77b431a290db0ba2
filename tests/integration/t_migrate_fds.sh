#!/bin/bash
# Pipes, FIFOs and sockets move with `ferry send` / `ferry receive` between
# the test hosts, in every mode (pre-copy, stop-and-copy, post-copy): the
# pipes workload (a pipe it streams through with ~48 KiB buffered, a
# packet-mode pipe, a FIFO) and the socks workload (unix pairs with data
# queued both ways, unix listeners on a path and an abstract name, TCP
# listeners on 10.77.0.1 and [::1], a UDP socket on 10.77.0.1). The
# receiver runs with --map-addr 10.77.0.1=10.77.0.2: a listener bound to
# A's own address binds B's, where clients then reach it (a wildcard
# listener would need nothing); a receiver without it refuses the move,
# naming the fd and address, and the process runs on in A. Then the middle
# of a pipeline in A moves to B with send --external fd:0 --external fd:1
# and the receiver's --inherit-fd 0:5 --inherit-fd 1:6 (the two pipes,
# opened again through /proc: both hosts share this machine's kernel) and
# --shell-job (a pipeline stage does not lead its session).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
. "$(dirname "$0")/sockets_lib.sh"
require_hosts
require_ferry
require_cmd openssl perl
migrate_setup

# the pipeline first: the receiver inherits its two pipes
bin=$(wl_path relay) || fail "cannot build relay"
for s in gen mid sink; do mkdir -p "$SH/$s"; done
host_exec A setsid bash -c "'$bin' '$SH/gen' gen | '$bin' '$SH/mid' relay | '$bin' '$SH/sink' sink" \
	</dev/null 2>>"$SH/pipeline.log" &
track_pid $!
for s in gen mid sink; do
	wait_ready "$SH/$s" "" 20
	eval "${s}_ns=$READY_PID"
	eval "${s}_pid=$(host_pid_of A "$READY_PID")"
done
exec 5<"/proc/$gen_pid/fd/1" 6>"/proc/$sink_pid/fd/0"
# --shell-job: relay does not lead its session (bash's setsid made gen's)
receiver_start --key-file "$KEY" --map-addr 10.77.0.1=10.77.0.2 --inherit-fd 0:5 --inherit-fd 1:6 --shell-job
exec 5<&- 6>&-

sent() { # NAME NSPID MODE [SEND OPTS...]
	local name=$1 nspid=$2 mode=$3
	shift 3
	ferry_send "$nspid" --key-file "$KEY" --mode "$mode" "$@"
	[ "$SEND_RC" = 0 ] || fail "$name ($mode): send failed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone A "$nspid" || fail "$name ($mode): pid $nspid still in A after the move"
	in_b_running "$nspid" || fail "$name ($mode): pid $nspid does not run in B"
	log "$name ($mode): moved, downtime $(json_num "$SEND_STATS" downtime_ms) ms"
}

port=$((20000 + RANDOM % 20000))
for mode in precopy stop-and-copy postcopy; do
	wl_start_in_a pipes
	pid=$WL_NSPID ctl=$WL_CTL
	sleep 0.5
	sent pipes "$pid" "$mode"
	at_move=$(cat "$ctl/count")
	_streamed() { [ "$(cat "$ctl/count")" -gt "$((at_move + 100000))" ]; }
	wait_until 20 _streamed || fail "pipes ($mode): no streaming in B (count $(cat "$ctl/count"), $at_move at the move)"
	finish_in B pipes "$pid" "$ctl"
	case "$OK_LINE" in "OK pipes values="*" packets=3 fifo=9") ;; *) fail "pipes ($mode): $OK_LINE" ;; esac

	port=$((port + 3))
	wl_start_in_a socks 10.77.0.1 "$port"
	pid=$WL_NSPID ctl=$WL_CTL
	sock_ping_all A 10.77.0.1 "$port" "$ctl" "$pid"
	sent socks "$pid" "$mode"
	sock_ping_all B 10.77.0.2 "$port" "$ctl" "$pid"
	out=$(run_in A sock_ping_tcp 10.77.0.2 "$port") && [[ $out == "pong tcp "* ]] ||
		fail "socks ($mode): the TCP listener in B does not answer A: '$out'"
	finish_in B socks "$pid" "$ctl"
	case "$OK_LINE" in "OK socks values="*" served=9 udp=2") ;; *) fail "socks ($mode): $OK_LINE" ;; esac
done

# A receiver without --map-addr cannot bind A's address: the send is refused
# naming the fd and the address, and the process runs on in A untouched.
main_port=$PORT
PORT=$((PORT + 1))
receiver_start --key-file "$KEY"
port=$((port + 3))
wl_start_in_a socks 10.77.0.1 "$port"
pid=$WL_NSPID ctl=$WL_CTL
ferry_send "$pid" --key-file "$KEY" --mode stop-and-copy
[ "$SEND_RC" != 0 ] || fail "a listener on 10.77.0.1 moved to a host without that address"
grep -q "cannot make TCP socket fd [0-9]* again: bind to 10.77.0.1:$port: Cannot assign requested address (this host does not have the address: bring it here or give --map-addr OLD=NEW)" "$SEND_ERR" ||
	fail "unexpected refusal: $(cat "$SEND_ERR")"
in_a_running "$pid" || fail "socks does not run on in A after the refused move"
PORT=$main_port
sock_ping_all A 10.77.0.1 "$port" "$ctl" "$pid"
finish_in A socks "$pid" "$ctl"
log "without --map-addr: refused, runs on in A: $OK_LINE"

at_move=$(cat "$SH/sink/count")
sent relay "$mid_ns" precopy --external fd:0 --external fd:1
_flowing() { [ "$(cat "$SH/sink/count")" -gt "$((at_move + 200000))" ]; }
wait_until 20 _flowing || fail "pipeline: counters do not flow after the move (sink at $(cat "$SH/sink/count"), $at_move before)"
touch "$SH/gen/stop"
wait_until 30 ns_gone B "$mid_ns" || fail "pipeline: relay did not finish in B after gen"
# sink keeps waiting for the end of its input (the receiver holds a copy of
# its pipe's writing end): it must have read every value gen wrote
check_ok relay "$SH/pipeline.log" 2 # gen's, and relay's from B (its stderr is the same log file)
gen=$(grep -o "^OK relay gen values=[0-9]*" "$SH/pipeline.log") || fail "no result from gen"
n=${gen##*=}
grep -q "^OK relay relay values=$n$" "$SH/pipeline.log" || fail "relay did not pass all $n values: $(grep '^OK' "$SH/pipeline.log")"
_all_in() { [ "$(cat "$SH/sink/count")" = "$n" ]; }
wait_until 10 _all_in || fail "sink read $(cat "$SH/sink/count") values, gen wrote $n"
log "pipeline: $n values through the relay moved to B ($at_move read by sink before the move)"
! grep -q "^FAIL" "$SH/pipeline.log" || fail "pipeline: $(grep '^FAIL' "$SH/pipeline.log")"
log "pass: pipes and sockets in both modes, $n values through the moved relay"
