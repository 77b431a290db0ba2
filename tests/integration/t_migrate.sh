#!/bin/bash
# ferry send / ferry receive between two test hosts over TLS with a
# pre-shared key: real programs move from A to B with the same pid and go on
# there, in every mode (pre-copy, stop-and-copy, post-copy, hybrid) (each workload verifies its own memory, threads, signals and file
# offsets after the move; evloop its epoll loop, timers, signalfd and inotify;
# ptimers its POSIX timers; ghosts its memfds and deleted file;
# memattrs its mlock'd and madvise'd ranges); the receiver serves one migration after another;
# the stats say what was measured.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl
migrate_setup
receiver_start --key-file "$KEY" --stats-json "$SH/recv.jsonl"

moved=0
migrate_one() { # MODE NAME [ARGS..]
	local mode=$1 name=$2
	shift 2
	wl_start_in_a "$name" "$@"
	local nspid=$WL_NSPID ctl=$WL_CTL
	sleep 0.5
	ferry_send "$nspid" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "$name: send failed: $(cat "$SEND_ERR")"
	# a process writing faster than the link may end pre-copy above the limit: that line only
	! grep -v "the pause will be about" "$SEND_ERR" | grep -q . || fail "$name: send printed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone A "$nspid" || fail "$name: pid $nspid still in A after the move"
	in_b_running "$nspid" || fail "$name: pid $nspid does not run in B"
	[ "$(json_num "$SEND_STATS" dest_pid)" = "$nspid" ] || fail "$name: stats name another pid: $(cat "$SEND_STATS")"
	[ "$(json_str "$SEND_STATS" mode)" = "$mode" ] || fail "$name: not $mode: $(cat "$SEND_STATS")"
	grep -q "\"channel\":\"TLS 1.3 (pre-shared key)\"" "$SEND_STATS" || fail "$name: not over TLS: $(cat "$SEND_STATS")"
	local down pages
	down=$(json_num "$SEND_STATS" downtime_ms)
	pages=$(json_num "$SEND_STATS" pages_sent)
	awk -v d="$down" 'BEGIN { exit !(d > 0 && d < 30000) }' || fail "$name: downtime $down ms"
	[ "$pages" -gt 0 ] || fail "$name: no pages sent"
	log "$name ($mode): moved, downtime $down ms, $pages pages"
	sleep 1 # it runs on in B
	in_b_running "$nspid" || fail "$name: pid $nspid died in B after the move"
	finish_in B "$name" "$nspid" "$ctl"
	moved=$((moved + 1))
}

for mode in precopy stop-and-copy postcopy hybrid; do
	migrate_one "$mode" mem256 64
	migrate_one "$mode" threads8
	migrate_one "$mode" signals
	migrate_one "$mode" efd
	migrate_one "$mode" evloop
	migrate_one "$mode" ptimers
	migrate_one "$mode" ghosts
	migrate_one "$mode" memattrs no-pdeathsig # ferry receive does not stay its parent
	migrate_one "$mode" avx
	migrate_one "$mode" vdso
done
# file locks: each host mounts its own filesystem at the same path, as two
# machines would have; the lock files exist on both and the locks move with
# the process: in B another process is refused them
ld=$T/lockdir
mkdir -p "$ld"
for h in A B; do host_exec "$h" mount -t tmpfs ferry-locks "$ld" || fail "mount a tmpfs in host $h"; done
host_exec B sh -c "for f in flock posix ofd; do head -c 200 /dev/zero >$ld/\$f; done" || fail "lock files in B"
for mode in precopy stop-and-copy postcopy; do
	wl_start_in_a locks "$ld"
	lk=$WL_NSPID lk_ctl=$WL_CTL
	locks_held "$ld" host_exec A
	ferry_send "$lk" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "locks ($mode): send failed: $(cat "$SEND_ERR")"
	in_b_running "$lk" || fail "locks ($mode) does not run in B"
	locks_held "$ld" host_exec B
	finish_in B locks "$lk" "$lk_ctl"
	[ "$OK_LINE" = "OK locks held=4" ] || fail "locks ($mode): $OK_LINE"
	log "locks ($mode): held in B"
	moved=$((moved + 1))
done

# --bandwidth: 64 MiB at 32 MiB/s take at least about 2 s
wl_start_in_a mem256 64
bw=$WL_NSPID bw_ctl=$WL_CTL
ferry_send "$bw" --key-file "$KEY" --bandwidth 32M --mode stop-and-copy
[ "$SEND_RC" = 0 ] || fail "--bandwidth: send failed: $(cat "$SEND_ERR")"
pms=$(json_num "$SEND_STATS" pages_ms)
awk -v t="$pms" 'BEGIN { exit !(t >= 1800 && t < 4000) }' || fail "--bandwidth 32M: 64 MiB of pages took $pms ms, expected ~2000"
log "--bandwidth 32M: 64 MiB of pages in $pms ms"
finish_in B mem256 "$bw" "$bw_ctl"
moved=$((moved + 1))
for mode in precopy stop-and-copy; do
	f=$SH/data.$mode.txt
	wl_start_in_a filewriter "$f"
	fw_ctl=$WL_CTL fw_pid=$WL_NSPID
	sleep 0.5
	lines_before=$(wc -l <"$f")
	ferry_send "$fw_pid" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "filewriter ($mode): send failed: $(cat "$SEND_ERR")"
	in_b_running "$fw_pid" || fail "filewriter ($mode) does not run in B"
	sleep 1
	finish_in B filewriter "$fw_pid" "$fw_ctl" 30
	check_numbered_lines "$f" "$lines_before"
	moved=$((moved + 1))
done

# two at once: the receiver serves each connection in its own child
wl_start_in_a mem256 64
p1=$WL_NSPID c1=$WL_CTL
wl_start_in_a threads8
p2=$WL_NSPID c2=$WL_CTL
sleep 0.5
host_exec A "$FERRY" send --pid "$p1" --to "10.77.0.2:$PORT" --key-file "$KEY" </dev/null >/dev/null 2>"$T/c1.err" &
s1=$!
host_exec A "$FERRY" send --pid "$p2" --to "10.77.0.2:$PORT" --key-file "$KEY" </dev/null >/dev/null 2>"$T/c2.err" &
s2=$!
wait "$s1" || fail "concurrent send 1: $(cat "$T/c1.err")"
wait "$s2" || fail "concurrent send 2: $(cat "$T/c2.err")"
for p in "$p1" "$p2"; do in_b_running "$p" || fail "pid $p does not run in B"; done
finish_in B mem256 "$p1" "$c1"
finish_in B threads8 "$p2" "$c2"
moved=$((moved + 2))

# --compress: a perl process holding 120 MB of text moves with a fraction of
# the bytes on the wire, and its data is intact in B
for codec in lz4 zstd; do
	LIB_SEQ=$((LIB_SEQ + 1))
	pc=$SH/ctl.perl.$LIB_SEQ
	mkdir -p "$pc"
	host_exec A setsid perl -e '
		my ($ctl) = @ARGV; my $x = "ferry moves processes " x 6_000_000; my $sum = unpack("%32C*", $x);
		open(my $f, ">", "$ctl/ready.tmp") or die; print $f "$$\n"; close $f; rename("$ctl/ready.tmp", "$ctl/ready");
		select(undef, undef, undef, 0.05) until -e "$ctl/stop";
		my $now = unpack("%32C*", $x);
		print(($now == $sum && length($x) == 132_000_000) ? "OK perlmem sum=$now\n" : "FAIL perlmem $now != $sum\n");
	' "$pc" </dev/null >>"$pc/log" 2>&1 &
	track_pid $!
	wait_ready "$pc" "" 60
	pp=$READY_PID
	ferry_send "$pp" --key-file "$KEY" --compress "$codec"
	[ "$SEND_RC" = 0 ] || fail "--compress $codec: send failed: $(cat "$SEND_ERR")"
	pb=$(json_num "$SEND_STATS" page_bytes) wb=$(json_num "$SEND_STATS" wire_bytes) cs=$(json_num "$SEND_STATS" compress_bytes_saved)
	[ "$(json_str "$SEND_STATS" compress)" = "$codec" ] || fail "--compress $codec: stats say $(json_str "$SEND_STATS" compress)"
	[ $((wb * 4)) -lt "$pb" ] || fail "--compress $codec: $wb bytes on the wire for $pb bytes of pages"
	[ "$cs" -gt $((pb / 2)) ] || fail "--compress $codec: saved only $cs of $pb"
	log "--compress $codec: $pb bytes of pages, $wb on the wire, downtime $(json_num "$SEND_STATS" downtime_ms) ms"
	in_b_running "$pp" || fail "perl does not run in B"
	finish_in B perlmem "$pp" "$pc"
	moved=$((moved + 1))
done

# --once over plain TCP: one migration, then the receiver exits with its result
main_out=$RECV_OUT
PORT=7071 receiver_start --insecure --once
once_pid=$RECV_PID once_out=$RECV_OUT
RECV_OUT=$main_out
wl_start_in_a threads8
op=$WL_NSPID oc=$WL_CTL
PORT=7071 ferry_send "$op" --insecure
[ "$SEND_RC" = 0 ] || fail "--once: send failed: $(cat "$SEND_ERR")"
grep -q '"channel":"plain TCP"' "$SEND_STATS" || fail "--insecure: $(cat "$SEND_STATS")"
wait_exit "$once_pid" 10 || fail "receive --once did not exit after its migration"
[ "$EXIT_RC" = 0 ] || fail "receive --once exited $EXIT_RC"
grep -q "pid $op from .* is running here" "$once_out" || fail "receive --once: $(cat "$once_out")"
finish_in B threads8 "$op" "$oc"

# the receiver logged each move and wrote its stats
n=$(grep -c "is running here" "$RECV_OUT")
[ "$n" = "$moved" ] || fail "receiver reported $n moves, expected $moved: $(cat "$RECV_OUT")"
[ "$(grep -c '"command":"receive"' "$SH/recv.jsonl")" = "$moved" ] || fail "receiver stats: $(cat "$SH/recv.jsonl")"
grep -q '"pages_path":"uffdio_copy"' "$SH/recv.jsonl" || fail "pages did not land with UFFDIO_COPY: $(cat "$SH/recv.jsonl")"
log "pass: $moved processes moved from A to B"
