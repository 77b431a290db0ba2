#!/bin/bash
# Live migration that fails must lose nothing: in each case below `ferry send`
# exits non-zero with one line saying why and where the process is, and the
# process runs on in host A untouched (not stopped, not traced, same signal
# mask) and verifies its memory at the end; the receiver keeps serving.
#   - a wrong key, and a plain-TCP sender against a TLS receiver: refused in
#     the handshake, before any record is read (the receiver says so); a
#     second connection with a session token of no migration: refused;
#   - a file the process holds open is missing in B: refused before A is touched;
#   - its pid is taken in B: refused with the process that holds it;
#   - the receiver is killed while pages stream over a shaped link;
#   - SIGINT to ferry send, and to ferry receive, while pages stream;
#   - a bit flipped on the wire in the middle of the pages (plain TCP through
#     a relay): the receiver detects it by the record checksum and refuses;
#   - ferry send killed (SIGKILL) at the commit point: the process stays
#     stopped in A, never runs twice; B discards its copy when GO never comes;
#     `kill -CONT` in A resumes it intact.
# Then the same process still migrates.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl tc
migrate_setup
receiver_start --key-file "$KEY" --timeout 5

sigblk() { host_exec A awk '/^SigBlk:/ {print $2}' "/proc/$1/status"; }
untouched() { # NSPID BLK CASE
	in_a_running "$1" || fail "$3: pid $1 in A is not running freely: $(host_exec A grep -E '^(State|TracerPid)' "/proc/$1/status" | tr '\n' ' ')"
	[ "$(sigblk "$1")" = "$2" ] || fail "$3: signal mask changed in A"
	wait_until 10 ns_gone B "$1" || fail "$3: pid $1 still exists in B"
}
expect_err() { # CASE REGEX
	[ "$SEND_RC" != 0 ] || fail "$1: send succeeded"
	[ "$(wc -l <"$SEND_ERR")" = 1 ] || fail "$1: not one line: $(cat "$SEND_ERR")"
	grep -Eq "$2" "$SEND_ERR" || fail "$1: unexpected message: $(cat "$SEND_ERR")"
}

wl_start_in_a mem256 256
pid=$WL_NSPID
ctl=$WL_CTL
blk=$(sigblk "$pid")
sleep 0.5

# 1. wrong key; plain TCP against TLS
bad=$SH/bad.key
(umask 077 && openssl rand -hex 32 >"$bad")
ferry_send "$pid" --key-file "$bad"
expect_err "wrong key" "^ferry: send: 10.77.0.2:$PORT: the peer refused the TLS handshake .*does not hold the same key; pid $pid runs on here untouched$"
untouched "$pid" "$blk" "wrong key"
wait_until 5 grep -q "could not prove the key" "$RECV_ERR" || fail "receiver did not report the bad key: $(cat "$RECV_ERR")"
ferry_send "$pid" --insecure --timeout 3
expect_err "plain sender" "; pid $pid (runs on here untouched|was resumed here untouched)$"
untouched "$pid" "$blk" "plain sender"
# a second connection (post-copy's urgent one) whose session token names no
# migration running there: the receiver says so and goes on serving
host_exec A bash -c "exec 3<>/dev/tcp/10.77.0.2/$PORT && printf 'FERRYJNU%016d' 0 >&3 && sleep 0.3"
wait_until 5 grep -q "joins no migration running here" "$RECV_ERR" || fail "stale token: $(cat "$RECV_ERR")"

# 2. a file the process holds open exists only in A
host_exec A mkdir -p "$T/aonly"
host_exec A mount -t tmpfs ferry-aonly "$T/aonly" || fail "tmpfs in A"
wl_start_in_a filewriter "$T/aonly/data.txt"
fw=$WL_NSPID fw_ctl=$WL_CTL
ferry_send "$fw" --key-file "$KEY"
expect_err "missing file" "refused the offer: $T/aonly/data.txt is missing here: No such file or directory; pid $fw runs on here untouched$"
in_a_running "$fw" || fail "missing file: filewriter does not run in A"
finish_in A filewriter "$fw" "$fw_ctl" 30

# 3. the pid is taken in B: fill B's pids up to pid-1, then a sleep gets pid
wl_start_in_a threads8
tp=$WL_NSPID tp_ctl=$WL_CTL
for _ in $(seq 2000); do
	last=$(host_exec B sh -c 'echo $$')
	[ "$last" -ge $((tp - 1)) ] && break
done
[ "$last" = $((tp - 1)) ] || fail "cannot set up the taken pid: B is at pid $last, need $((tp - 1))"
host_exec B sleep 120 </dev/null >/dev/null 2>&1 & # nsenter's child in B takes the next pid and execs sleep
track_pid $!
# look from outside: anything run inside B now would take pids itself
_sleeps() { local g; g=$(host_pid_of B "$tp") && [ "$(cat "/proc/$g/comm" 2>/dev/null)" = sleep ]; }
wait_until 5 _sleeps || fail "cannot set up the taken pid: pid $tp in B is not the sleep"
ferry_send "$tp" --key-file "$KEY"
expect_err "pid taken" "refused the offer: pid $tp is taken in this pid namespace by the running process $tp \\(sleep 120\\); pid $tp runs on here untouched$"
in_a_running "$tp" || fail "pid taken: threads8 does not run in A"
finish_in A threads8 "$tp" "$tp_ctl" 30

# Cases 4 and 5 interrupt a stop-and-copy send while 256 MiB cross a
# 400 Mbit/s link (t_precopy interrupts pre-copy rounds).
# send_interrupted NAME CMD...: starts the send, waits until the process is
# frozen and pages flow, runs CMD, waits for the send (SEND_RC, SEND_ERR).
WL_GPID_BIG=$(host_pid_of A "$pid")
_streaming() { [ "$(pid_tracer "$WL_GPID_BIG")" != 0 ]; }
send_interrupted() {
	local name=$1 sp
	shift
	host_exec A "$FERRY" send --pid "$pid" --to "10.77.0.2:$PORT" --key-file "$KEY" --mode stop-and-copy \
		</dev/null >/dev/null 2>"$T/$name.err" &
	sp=$!
	wait_until 10 _streaming || fail "$name: send never froze the process"
	sleep 0.5
	"$@"
	wait "$sp"
	SEND_RC=$? SEND_ERR=$T/$name.err
}
host_tc A 400mbit 64kb 100ms || fail "tc"

# 4. the receiver (the listener and its connection child) is killed
send_interrupted kill host_pkill B -KILL "^$FERRY receive --listen 10.77.0.2:$PORT"
expect_err "receiver killed" "(closed the connection|did not answer).*; pid $pid was resumed here untouched$"
untouched "$pid" "$blk" "receiver killed"
receiver_start --key-file "$KEY" --timeout 5

# 5. SIGINT to ferry send
send_interrupted int host_pkill A -INT "^$FERRY send --pid $pid --to"
expect_err "SIGINT" "interrupted.*; pid $pid was resumed here untouched$"
untouched "$pid" "$blk" "SIGINT"
wait_until 10 grep -q "discarded here" "$RECV_ERR" || fail "receiver did not discard the half-built process: $(cat "$RECV_ERR")"

# 5b. SIGINT to ferry receive: the migration's child gives up too
send_interrupted rint host_pkill B -INT "^$FERRY receive --listen 10.77.0.2:$PORT"
expect_err "SIGINT to the receiver" "(refused the process state: .*interrupted by a signal|closed the connection).*; pid $pid was resumed here untouched$"
untouched "$pid" "$blk" "SIGINT to the receiver"
wait_until 10 grep -q "interrupted by a signal; the half-built process was discarded here" "$RECV_ERR" ||
	fail "receiver: $(cat "$RECV_ERR")"
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
receiver_start --key-file "$KEY" --timeout 5

# 6. one bit flipped on the wire, 8 MiB into the stream (plain TCP: TLS would
#    refuse the record itself), through a relay in B
main_err=$RECV_ERR
PORT=7071 receiver_start --insecure --timeout 5
plain_err=$RECV_ERR
RECV_ERR=$main_err # the TLS receiver's, for the cases below
host_exec B perl "$(dirname "$0")/flipproxy.pl" 10.77.0.2 7081 10.77.0.2 7071 $((8 << 20)) 2>"$T/flip.err" &
track_pid $!
wait_until 10 grep -q listening "$T/flip.err" || fail "relay did not start: $(cat "$T/flip.err")"
PORT=7081 ferry_send "$pid" --insecure
grep -q flipped "$T/flip.err" || fail "the relay flipped nothing: $(cat "$T/flip.err")"
expect_err "flipped bit" "refused the process state: stream is corrupted: checksum mismatch in pages record at offset [0-9]+; pid $pid (runs on|was resumed) here untouched$"
untouched "$pid" "$blk" "flipped bit"
wait_until 30 grep -q "checksum mismatch" "$plain_err" || fail "receiver: $(cat "$plain_err")"
log "receiver: $(grep "checksum mismatch" "$plain_err")"

# 7. ferry send killed at the commit point
LIB_SEQ=$((LIB_SEQ + 1))
host_exec A env FERRY_STALL_AT=go "$FERRY" send --pid "$pid" --to "10.77.0.2:$PORT" --key-file "$KEY" \
	</dev/null >/dev/null 2>"$T/go.err" &
sp=$!
_at_go() { grep -q "stalled at go" "$T/go.err"; }
wait_until 30 _at_go || fail "send never reached the commit point: $(cat "$T/go.err")"
host_pkill A -KILL "^$FERRY send --pid $pid --to" || fail "no ferry send to kill"
wait "$sp" 2>/dev/null
_stopped() { [ "$(host_exec A awk '/^State:/ {print $2}' "/proc/$pid/status")" = T ]; }
wait_until 5 _stopped || fail "after a kill at the commit point, pid $pid in A is $(host_exec A grep State "/proc/$pid/status")"
sleep 1
_stopped || fail "pid $pid in A did not stay stopped"
wait_until 15 ns_gone B "$pid" || fail "B kept its copy although GO never came"
wait_until 10 grep -q "waiting for go.*discarded here" "$RECV_ERR" || fail "receiver: $(cat "$RECV_ERR")"
host_exec A kill -CONT "$pid"
wait_until 5 in_a_running "$pid" || fail "kill -CONT did not resume pid $pid"
kill -CONT "$(pid_ppid "$WL_GPID_BIG")" # nsenter, its parent here, stopped itself along with it

# Every case left the process whole: it still migrates, and verifies in B.
ferry_send "$pid" --key-file "$KEY" --max-iterations 2
[ "$SEND_RC" = 0 ] || fail "migration after the failures: $(cat "$SEND_ERR")"
in_b_running "$pid" || fail "not running in B"
finish_in B mem256 "$pid" "$ctl"
log "pass"
