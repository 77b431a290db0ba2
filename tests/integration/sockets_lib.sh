# shellcheck shell=bash
# Clients of the socks workload (tests/workloads/socks.c): each connects,
# says "ping" and prints the one line the workload answers.
#   sock_ping_tcp ADDR PORT / sock_ping_udp ADDR PORT / sock_ping_unix PATH
#   (PATH starting with @: an abstract name)
# Run them inside a test host with host_exec A bash -c "$(declare -f ...)"
# or directly. Source after lib.sh.

sock_ping_tcp() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && echo ping >&3 && read -r -t 3 line <&3 && echo "$line"' _ "$1" "$2"
}
sock_ping_udp() { # (bash's /dev/udp reads a byte at a time: the rest of a datagram is lost)
	timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(Proto => "udp", PeerAddr => $ARGV[0], PeerPort => $ARGV[1]) or die "udp: $!\n";
		$s->send("ping\n"); my $l; $s->recv($l, 100); print $l;' "$1" "$2"
}
sock_ping_unix() {
	timeout 5 perl -MIO::Socket::UNIX -e '
		my $p = $ARGV[0]; $p =~ s/^@/\0/;
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $p) or die "connect $ARGV[0]: $!\n";
		print $s "ping\n"; my $l = <$s>; print $l if defined $l;' "$1"
}

# run_in HOST|"" CMD...: run a client here or inside a test host
run_in() {
	local h=$1
	shift
	if [ -n "$h" ]; then
		host_exec "$h" bash -c "$(declare -f sock_ping_tcp sock_ping_udp sock_ping_unix); $*"
	else
		bash -c "$(declare -f sock_ping_tcp sock_ping_udp sock_ping_unix); $*"
	fi
}

# sock_ping_all HOST ADDR PORT CTL PID: pings the 4 listeners and the UDP
# socket of a socks workload (from HOST, or here), each must answer.
sock_ping_all() {
	local h=$1 addr=$2 port=$3 ctl=$4 pid=$5 out
	out=$(run_in "$h" sock_ping_unix "$ctl/sock") && [[ $out == "pong unix "* ]] || fail "unix listener: '$out'"
	out=$(run_in "$h" sock_ping_unix "@ferry-socks-$pid") && [[ $out == "pong abstract "* ]] || fail "abstract listener: '$out'"
	out=$(run_in "$h" sock_ping_tcp "$addr" "$port") && [[ $out == "pong tcp "* ]] || fail "TCP listener $addr:$port: '$out'"
	out=$(run_in "$h" sock_ping_tcp ::1 $((port + 1))) && [[ $out == "pong tcp6 "* ]] || fail "TCP listener [::1]:$((port + 1)): '$out'"
	out=$(run_in "$h" sock_ping_udp "$addr" $((port + 2))) && [[ $out == "pong udp "* ]] || fail "UDP socket $addr:$((port + 2)): '$out'"
	log "all listeners answer ($addr:$port)"
}
