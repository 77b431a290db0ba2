#!/bin/bash
# Unix socket pairs (stream, datagram, seqpacket) with data queued both
# ways, listening unix sockets (a path, an abstract name), TCP listeners
# (IPv4 and IPv6, with SO_REUSEADDR, TCP_NODELAY, IPV6_V6ONLY) and a bound
# UDP socket survive a dump and restore: every listener answers a new
# client after the restore, the stream through the pair goes on from where
# it was, and the workload finds every queued byte, message and packet.
# A dump with --leave-running leaves every queue as it was.
# A TCP connection the process holds is refused by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sockets_lib.sh"
require_root
require_ferry
require_cmd perl

port=$((20000 + RANDOM % 20000))
start_wl socks 127.0.0.1 "$port"
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sock_ping_all "" 127.0.0.1 "$port" "$WL_CTL" "$pid"

# An established connection held by the process: refused, named.
exec 7<>"/dev/tcp/127.0.0.1/$port"
sleep 0.2
ferry_dump "$pid" "$T/img" && fail "dump of a process holding a TCP connection succeeded"
grep -q "^ferry: dump: established TCP connection fd [0-9]*: not supported yet$" "$DUMP_ERR" ||
	fail "unexpected refusal: $(cat "$DUMP_ERR")"
echo ping >&7
read -r -t 3 line <&7 || fail "the workload does not serve after a refused dump"
exec 7>&-
log "refused while it held a connection; served it after: $line"

# --leave-running: every queued byte stays (the workload checks each value it reads)
ferry_dump "$pid" "$T/img0" --leave-running || fail "dump --leave-running failed: $(cat "$DUMP_ERR")"
sleep 0.3
is_running_free "$pid" || fail "pid $pid does not run on after --leave-running"
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
at_dump=$(cat "$WL_CTL/count")

# Its port taken meanwhile: the restore fails with one line, leaves nothing.
perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], Listen => 1, ReuseAddr => 1) or die "$!\n";
	open(my $r, ">", $ARGV[1]); close $r; sleep 60' "127.0.0.1:$port" "$T/holder.ready" &
holder=$!
track_pid "$holder"
wait_until 5 test -e "$T/holder.ready" || fail "cannot take port $port"
ferry_restore_sync "$T/img" && fail "restore succeeded although port $port is taken"
grep -q "^ferry: restore: cannot make TCP socket fd [0-9]* again: bind to 127.0.0.1:$port: Address already in use$" "$RESTORE_ERR" ||
	fail "unexpected error: $(cat "$RESTORE_ERR")"
[ "$(grep -c . "$RESTORE_ERR")" = 1 ] || fail "more than one line: $(cat "$RESTORE_ERR")"
pid_alive "$pid" && fail "the failed restore left pid $pid behind"
kill "$holder"
wait_gone "$holder" 5

ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sock_ping_all "" 127.0.0.1 "$port" "$WL_CTL" "$pid"
_streamed() { [ "$(cat "$WL_CTL/count")" -gt "$((at_dump + 50000))" ]; }
wait_until 20 _streamed || fail "the restored workload does not stream through its socket pair (count $(cat "$WL_CTL/count"), $at_dump at the dump)"
stop_and_check socks "$WL_CTL" "$pid" "$RESTORE_PID"
case "$OK_LINE" in "OK socks values="*" served=9 udp=2") ;; *) fail "unexpected: $OK_LINE" ;; esac
log "pass: $OK_LINE (count at dump $at_dump)"
