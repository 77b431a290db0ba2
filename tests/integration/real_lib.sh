# shellcheck shell=bash
# Real Debian programs moved while they work (t_real_xz, t_real_asyncio,
# t_real_redis). Each program runs once, in test host A, and is moved five
# times along REAL_STEPS (FERRY_REAL_STEPS="STEP..." to choose others):
#   restore        ferry dump in A, then ferry restore --detach in A
#   precopy        ferry send A -> B (pre-copy)
#   stop-and-copy  ferry send B -> A (stop-and-copy)
#   postcopy       ferry send A -> B (post-copy)
#   hybrid         ferry send B -> A (hybrid)
# (a send goes from where the program runs to the other host)
# and its test checks the program's own state after every move.
#   real_setup                   hosts A and B, a key, a receiver in each
#                                (after the test's own require_cmd); B's
#                                appends its stats to $SH/recv.B.jsonl
#   real_start_in_a NAME CMD..   CMD (setsid) in A, stdout and stderr in
#                                $SH/NAME.out and .err; sets REAL_NSPID, REAL_HOST
#   real_move STEP               one move of REAL_NSPID; sets REAL_HOST
#   real_wait_exit TMO           until the program has exited where it runs
# Sourcing it sources lib.sh, hosts.sh and migrate_lib.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/hosts.sh"
. "$(dirname "${BASH_SOURCE[0]}")/migrate_lib.sh"

REAL_STEPS=(${FERRY_REAL_STEPS:-restore precopy stop-and-copy postcopy hybrid})
declare -A REAL_ADDR=([A]=10.77.0.1 [B]=10.77.0.2)

real_setup() {
	require_hosts
	require_ferry
	require_cmd openssl
	migrate_setup
	receiver_start_in B "${REAL_ADDR[B]}" --key-file "$KEY" --stats-json "$SH/recv.B.jsonl"
	receiver_start_in A "${REAL_ADDR[A]}" --key-file "$KEY"
}

real_start_in_a() {
	local name=$1 pidf
	shift
	pidf=$SH/$name.pid
	rm -f "$pidf"
	# sh prints its pid and becomes the program (exec): that is the pid in
	# A. The redirections are the program's own: nsenter, killed with it by a
	# dump (it dies of its child's signal), has its shell's report elsewhere.
	host_exec A setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0.pid" && exec "$@" >"$0.out" 2>"$0.err"' \
		"$SH/$name" "$@" </dev/null >>"$T/real_start.log" 2>&1 &
	track_pid $!
	wait_until 10 test -s "$pidf" || fail "$name did not start in host A: $(cat "$SH/$name.err")"
	REAL_NSPID=$(cat "$pidf")
	REAL_HOST=A
	track_pid "$(host_pid_of A "$REAL_NSPID")"
	log "$name: pid $REAL_NSPID in host A"
}

_real_sent() { # FROM TO MODE
	local from=$1 to=$2 mode=$3
	ferry_send_from "$from" "$REAL_NSPID" "${REAL_ADDR[$to]}" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "$mode from $from to $to failed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone "$from" "$REAL_NSPID" || fail "pid $REAL_NSPID still in $from after the move"
	ns_running "$to" "$REAL_NSPID" || fail "pid $REAL_NSPID does not run in $to after the move"
	log "moved $from -> $to ($mode): downtime $(json_num "$SEND_STATS" downtime_ms) ms, $(json_num "$SEND_STATS" pages_sent) pages"
	REAL_HOST=$to
}

real_move() {
	local img t0
	case $1 in
	restore)
		img=$SH/img.$REAL_NSPID.$LIB_SEQ
		LIB_SEQ=$((LIB_SEQ + 1))
		t0=$(date +%s%N)
		host_exec A timeout -k 5 120 "$FERRY" dump --pid "$REAL_NSPID" --dir "$img" \
			</dev/null >"$T/dump.$LIB_SEQ.out" 2>"$T/dump.$LIB_SEQ.err" ||
			fail "dump in A failed: $(cat "$T/dump.$LIB_SEQ.err")"
		wait_until 15 ns_gone A "$REAL_NSPID" || fail "pid $REAL_NSPID still in A after its dump"
		host_exec A timeout -k 5 120 "$FERRY" restore --dir "$img" --detach \
			</dev/null >"$T/restore.$LIB_SEQ.out" 2>"$T/restore.$LIB_SEQ.err" ||
			fail "restore in A failed: $(cat "$T/restore.$LIB_SEQ.err")"
		ns_running A "$REAL_NSPID" || fail "pid $REAL_NSPID does not run in A after its restore"
		log "dumped and restored in A in $((($(date +%s%N) - t0) / 1000000)) ms ($(du -sm "$img" | cut -f1) MB image)"
		rm -rf "$img"
		REAL_HOST=A
		;;
	precopy | stop-and-copy | postcopy | hybrid)
		if [ "$REAL_HOST" = A ]; then _real_sent A B "$1"; else _real_sent B A "$1"; fi
		;;
	*) fail "real_move: unknown step $1" ;;
	esac
}

# gone or a zombie (an orphan waits for its host's init to reap it)
_real_exited() {
	local st
	st=$(host_exec "$REAL_HOST" awk '/^State:/ {print $2}' "/proc/$REAL_NSPID/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}
real_wait_exit() {
	wait_until "$1" _real_exited || fail "pid $REAL_NSPID did not exit in host $REAL_HOST in $1 s"
}
