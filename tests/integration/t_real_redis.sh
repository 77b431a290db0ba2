#!/bin/bash
# A real server: Debian's redis-server (its own config, port and dir in the
# test's tmp, no persistence) holding 100,000 keys in memory, moved five
# times (real_lib.sh: dumped and restored in host A, then sent to B and
# back with pre-copy, stop-and-copy, post-copy and hybrid) with no client
# connected, listening on
# 127.0.0.1 and [::1]. The post-copy move goes over a 40 Mbit/s link and
# a client asks for BGSAVE as soon as redis runs in B: redis forks while
# most of its memory is still at A, and the child's RDB, loaded by a second
# redis-server, has the same DEBUG DIGEST. After each move a new
# client reads every key back (sorted keys and values against what was
# written, and DEBUG DIGEST), writes 1,000 more, and INFO shows the same
# run_id and an uptime that went on. While a client is connected, dump and
# send are refused naming the connection's fd, and redis runs on untouched.
. "$(dirname "$0")/real_lib.sh"
require_cmd redis-server redis-cli sha256sum
real_setup

port=$((20000 + RANDOM % 20000))
mkdir -p "$SH/redis"
cat >"$SH/redis.conf" <<EOF
port $port
bind 127.0.0.1 -::1
dir $SH/redis
save ""
appendonly no
daemonize no
logfile $SH/redis.log
enable-debug-command local
EOF
real_start_in_a redis redis-server "$SH/redis.conf"
# bounded: a redis that stopped answering fails the test, not its timeout
cli() { host_exec "$REAL_HOST" timeout -k 2 30 redis-cli -p "$port" "$@"; }
_up() { [ "$(cli ping 2>/dev/null)" = PONG ]; }
wait_until 20 _up || fail "redis does not answer: $(tail -n5 "$SH/redis.log")"

# put N FIRST PREFIX: N keys PREFIX:i = a seeded value, written with --pipe;
# they are added to the expected contents ($SH/expected, "key value" lines)
put() {
	awk -v n="$1" -v first="$2" -v p="$3" 'BEGIN {
		srand(first);
		for (i = first; i < first + n; i++) {
			k = p ":" i; v = sprintf("%x-%x-%d", int(rand() * 2^31), int(rand() * 2^31), i);
			print k, v >> "'"$SH/expected"'";
			printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v;
		}
	}' | cli --pipe >"$T/pipe.out" 2>&1 || fail "redis-cli --pipe: $(cat "$T/pipe.out")"
	grep -q "errors: 0, replies: $1" "$T/pipe.out" || fail "writing $1 keys: $(cat "$T/pipe.out")"
}
# every key and its value, read back by a new client, against the expected contents
contents_check() {
	local want got
	cli --scan | sort >"$T/keys" || fail "scan"
	# MGET 1000 keys at a time: one reply line per value
	awk '{ printf "%s%s", (NR % 1000 == 1 ? "MGET" : ""), " " $1 } NR % 1000 == 0 { print "" } END { if (NR % 1000) print "" }' \
		"$T/keys" | cli >"$T/values" || fail "mget"
	want=$(sort "$SH/expected" | sha256sum)
	got=$(paste -d' ' "$T/keys" "$T/values" | sha256sum)
	[ "$got" = "$want" ] || fail "$1: keys and values read back differ ($(wc -l <"$T/keys") keys, $(wc -l <"$SH/expected") expected)"
	[ "$(cli dbsize)" = "$(wc -l <"$SH/expected")" ] || fail "$1: dbsize $(cli dbsize)"
}
info() { cli info server | tr -d '\r' | sed -n "s/^$1://p"; }

# BGSAVE once redis runs in B, during the post-copy move
bgsave_when_in_b() {
	wait_until 30 ns_running B "$REAL_NSPID" || return 1
	host_exec B timeout -k 2 30 redis-cli -p "$port" bgsave >"$T/bgsave.out" 2>&1
	grep -q "Background saving started" "$T/bgsave.out"
}
# rdb_check DIGEST: the RDB the fork wrote during post-copy, loaded by a
# second redis-server in B, holds exactly what redis held (DEBUG DIGEST);
# B followed the fork and placed pages into the child
rdb_check() {
	_saved() { [ "$(cli info persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" = 0 ]; }
	wait_until 60 _saved || fail "BGSAVE did not finish"
	cli info persistence | tr -d '\r' | grep -q '^rdb_last_bgsave_status:ok' || fail "BGSAVE failed: $(tail -n3 "$SH/redis.log")"
	local port2=$((port + 1)) st forks forked got
	cli2() { host_exec B timeout -k 2 30 redis-cli -p "$port2" "$@"; }
	host_exec B redis-server --port "$port2" --bind 127.0.0.1 --dir "$SH/redis" --dbfilename dump.rdb --save "" \
		--appendonly no --enable-debug-command local --logfile "$SH/redis2.log" </dev/null >/dev/null 2>&1 &
	track_pid $!
	_up2() { [ "$(cli2 ping 2>/dev/null)" = PONG ]; }
	wait_until 20 _up2 || fail "the second redis does not answer: $(tail -n3 "$SH/redis2.log")"
	got=$(cli2 debug digest)
	[ "$got" = "$1" ] || fail "postcopy: the RDB saved during post-copy has digest $got, not $1"
	cli2 shutdown nosave >/dev/null 2>&1
	st=$T/recv.postcopy.json
	tail -n 1 "$SH/recv.B.jsonl" >"$st"
	forks=$(json_num "$st" forks) forked=$(json_num "$st" pages_forked)
	[ "${forks:-0}" -ge 1 ] && [ "${forked:-0}" -gt 0 ] || fail "postcopy: BGSAVE's fork not followed during post-copy (see $st)"
	log "postcopy: BGSAVE during post-copy: $forks fork(s) followed, $forked pages placed into the child, its RDB has the same digest"
}

put 100000 1 key
contents_check "written"
digest=$(cli debug digest)
run_id=$(info run_id)
uptime=$(info uptime_in_seconds)
log "100000 keys in, digest $digest, run_id $run_id"

# a client connected: both refused, naming its fd; redis runs on
host_exec A sh -c "sleep 60 | redis-cli -p $port" >/dev/null 2>&1 &
track_pid $!
_connected() { [ "$(cli client list | grep -c .)" -ge 2 ]; }
wait_until 10 _connected || fail "the client did not connect"
# its fd in redis: CLIENT LIST says it, /proc confirms it is a socket
conn_fd=$(cli client list | grep -v 'cmd=client|list' | sed -n 's/.* fd=\([0-9]*\) .*/\1/p')
[[ $conn_fd =~ ^[0-9]+$ ]] && [[ $(host_exec A readlink "/proc/$REAL_NSPID/fd/$conn_fd") == socket:* ]] ||
	fail "cannot tell the client's fd: '$conn_fd'"
msg="established TCP connection fd $conn_fd: not supported yet"
host_exec A timeout -k 5 60 "$FERRY" dump --pid "$REAL_NSPID" --dir "$SH/img.refused" </dev/null >/dev/null 2>"$T/refused.err" &&
	fail "redis with a client connected was dumped"
grep -qx "ferry: dump: $msg" "$T/refused.err" || fail "dump refused with: $(cat "$T/refused.err")"
ferry_send_from A "$REAL_NSPID" "${REAL_ADDR[B]}" --key-file "$KEY"
[ "$SEND_RC" != 0 ] || fail "redis with a client connected was sent"
grep -q "$msg" "$SEND_ERR" || fail "send refused with: $(cat "$SEND_ERR")"
in_a_running "$REAL_NSPID" || fail "redis is not running freely in A after the refusals"
[ "$(cli debug digest)" = "$digest" ] || fail "data changed after the refusals"
log "with a client connected: refused ($msg), redis runs on"
host_pkill A -TERM "^redis-cli -p $port\$"
_alone() { [ "$(cli client list | grep -c .)" = 1 ]; }
wait_until 10 _alone || fail "the client is still connected: $(cli client list)"

step_no=0
for step in "${REAL_STEPS[@]}"; do
	step_no=$((step_no + 1))
	sleep 1 # the uptime must go on across the move
	if [ "$step" = postcopy ]; then
		host_tc A 40mbit 64kb 100ms || fail "tc"
		bgsave_when_in_b &
		saver=$!
	fi
	real_move "$step"
	if [ "$step" = postcopy ]; then
		wait "$saver" || fail "postcopy: BGSAVE was not started: $(cat "$T/bgsave.out")"
		host_exec A tc qdisc del dev "${HOST_IF[A]}" root
		rdb_check "$digest"
	fi
	[ "$(cli -h ::1 ping)" = PONG ] || fail "$step: the listener on [::1] does not answer"
	[ "$(cli debug digest)" = "$digest" ] || fail "$step: DEBUG DIGEST $(cli debug digest), $digest before the move"
	contents_check "$step"
	[ "$(info run_id)" = "$run_id" ] || fail "$step: run_id $(info run_id), $run_id before"
	up=$(info uptime_in_seconds)
	[ "$up" -gt "$uptime" ] || fail "$step: uptime $up s, $uptime s before the move"
	uptime=$up
	put 1000 $((step_no * 1000000)) "$step"
	contents_check "$step, 1000 keys more"
	digest=$(cli debug digest)
	log "$step: every key read back in host $REAL_HOST, uptime $up s, 1000 keys written: $(cli dbsize)"
done
cli shutdown nosave >/dev/null 2>&1
real_wait_exit 10
! grep -E '# (WARNING|Error)' "$SH/redis.log" | grep -v 'overcommit' | grep -q . ||
	fail "redis log: $(grep -E '# ' "$SH/redis.log" | grep -v overcommit | head -n3)"
log "pass: $(wc -l <"$SH/expected") keys intact after ${#REAL_STEPS[@]} moves"
