# shellcheck shell=bash
# Helpers for live-migration tests between two test hosts (hosts.sh):
#   migrate_setup            hosts A and B linked, a key file, $SH shared dir
#                            (skips where the hosts or openssl cannot be had)
#   receiver_start [OPTS..]  `ferry receive` in B on 10.77.0.2:$PORT (sets RECV_PID)
#   receiver_start_in HOST ADDR [OPTS..]: the same in HOST on ADDR:$PORT
#   wl_start_in_a NAME ARGS  a workload in host A (sets WL_NSPID, WL_GPID, WL_CTL)
#   ferry_send NSPID [OPTS]  `ferry send` inside A (sets SEND_RC, SEND_ERR, SEND_STATS)
#   ferry_send_from HOST NSPID ADDR [OPTS]: `ferry send` inside HOST to ADDR:$PORT
#   in_a_running NSPID / in_b_running NSPID: the process runs (untraced) there
#   host_pkill HOST SIG PATTERN: pkill limited to HOST's pid namespace
#   finish_in HOST NAME NSPID CTL [TMO]: stop a workload there, check its OK line
# Source after lib.sh and hosts.sh.

PORT=7070
migrate_setup() {
	require_hosts
	require_cmd openssl
	SH=$T/shared
	mkdir -p "$SH" # made before the hosts: the same directory in both
	host_create A
	host_create B
	host_link A B
	host_reachable A 10.77.0.2 || fail "host A cannot reach B"
	host_burn_pids A 300 # A's pids above anything B has used
	KEY=$SH/key
	(umask 077 && openssl rand -hex 32 >"$KEY") || fail "cannot make a key"
}

receiver_start() { receiver_start_in B 10.77.0.2 "$@"; }
receiver_start_in() {
	local host=$1 addr=$2
	shift 2
	LIB_SEQ=$((LIB_SEQ + 1))
	RECV_OUT=$T/recv.$LIB_SEQ.out
	RECV_ERR=$T/recv.$LIB_SEQ.err
	host_exec "$host" "$FERRY" receive --listen "$addr:$PORT" "$@" </dev/null >"$RECV_OUT" 2>"$RECV_ERR" &
	RECV_PID=$!
	track_pid "$RECV_PID"
	_listening() { grep -q "listening on" "$RECV_ERR"; }
	wait_until 10 _listening || fail "ferry receive did not start: $(cat "$RECV_ERR")"
}

wl_start_in_a() {
	local name=$1 bin
	shift
	bin=$(wl_path "$name") || fail "build $name"
	LIB_SEQ=$((LIB_SEQ + 1))
	WL_CTL=$SH/ctl.$name.$LIB_SEQ
	mkdir -p "$WL_CTL"
	host_exec A setsid "$bin" "$WL_CTL" "$@" </dev/null >>"$WL_CTL/log" 2>&1 &
	track_pid $!
	wait_ready "$WL_CTL" "" 60
	WL_NSPID=$READY_PID
	WL_GPID=$(host_pid_of A "$WL_NSPID") || fail "cannot find pid $WL_NSPID of host A"
	track_pid "$WL_GPID"
	log "$name: pid $WL_NSPID in A ($WL_GPID here)"
}

ferry_send() {
	local nspid=$1
	shift
	ferry_send_from A "$nspid" 10.77.0.2 "$@"
}
ferry_send_from() {
	local host=$1 nspid=$2 addr=$3
	shift 3
	LIB_SEQ=$((LIB_SEQ + 1))
	SEND_ERR=$T/send.$LIB_SEQ.err
	SEND_STATS=$T/send.$LIB_SEQ.json
	host_exec "$host" timeout -k 5 120 "$FERRY" send --pid "$nspid" --to "$addr:$PORT" --stats-json "$SEND_STATS" "$@" \
		</dev/null >"$T/send.$LIB_SEQ.out" 2>"$SEND_ERR"
	SEND_RC=$?
	log "ferry send --pid $nspid $* -> rc $SEND_RC: $(head -c 300 "$SEND_ERR")"
}

# ns_running HOST NSPID: the process exists there, is not stopped, not traced
ns_running() {
	local st
	st=$(host_exec "$1" awk '/^State:/ {print $2} /^TracerPid:/ {print $2}' "/proc/$2/status" 2>/dev/null | tr '\n' ' ')
	case "$st" in "R 0 " | "S 0 " | "D 0 ") return 0 ;; esac
	return 1
}
in_a_running() { ns_running A "$1"; }
in_b_running() { ns_running B "$1"; }
ns_gone() { ! host_exec "$1" test -e "/proc/$2"; }
# host_pkill HOST SIGNAL PATTERN: signal the processes of HOST's pid
# namespace whose command line matches PATTERN (never another run's)
host_pkill() { pkill --ns "${HOST_PID[$1]}" --nslist pid "$2" -f "$3"; }
# finish_in HOST NAME NSPID CTL [TMO=60]: asks the workload to stop, waits
# (bounded) until it is gone from HOST, then checks its OK line
finish_in() {
	touch "$4/stop"
	wait_until "${5:-60}" ns_gone "$1" "$3" || fail "$2 (pid $3) did not finish in host $1"
	check_ok "$2" "$4/log"
}

# held_then_back_in_a WHAT NSPID CTL NAME: after a post-copy that failed once
# the process ran on B: A's copy is stopped, B's waits for its pages (in
# handle_userfault, never reading zeros); B's is killed, A's continued
# (with the nsenter that stopped with it), and it finishes in A with its
# state verified.
held_then_back_in_a() {
	local what=$1 pid=$2 ctl=$3 name=$4 waits
	[ "$(host_exec A awk '/^State:/ {print $2}' "/proc/$pid/status")" = T ] || fail "$what: pid $pid is not stopped in A"
	waits=$(host_exec B cat "/proc/$pid/wchan" 2>/dev/null)
	[ "$waits" = handle_userfault ] || fail "$what: pid $pid in B waits in '$waits', not for its pages"
	host_exec B kill -KILL "$pid"
	wait_until 10 ns_gone B "$pid" || fail "$what: cannot kill pid $pid in B"
	host_exec A kill -CONT "$pid"
	kill -CONT "$(ps -o ppid= -p "$WL_GPID" | tr -d ' ')" 2>/dev/null
	wait_until 5 in_a_running "$pid" || fail "$what: pid $pid does not run again in A"
	host_exec A tc qdisc del dev "${HOST_IF[A]}" root 2>/dev/null
	finish_in A "$name" "$pid" "$ctl"
}
