# shellcheck shell=bash
# Test hosts: each host is a pid-1 process (tests/workloads/hostinit.c) in its
# own pid + mount (own /proc) + uts + net + ipc namespaces, made with unshare.
# Source after lib.sh:   . "$(dirname "$0")/hosts.sh"
#
#   host_create A            -> HOST_PID[A] = host init's pid in our namespace
#   host_exec A CMD...       -> run CMD inside host A (foreground)
#   host_link A B            -> veth pair, A=10.77.0.1/24, B=10.77.0.2/24
#                               (sets HOST_IF[A], HOST_IF[B])
#   host_tc A RATE BURST LAT -> tbf qdisc on A's veth end (e.g. 100mbit 32kb 50ms)
#   host_pid_of A NSPID      -> our-namespace pid of host A's process NSPID
#   host_burn_pids A N       -> make host A's next pid > N (run N trivial commands)
#   hosts_destroy            -> kill all hosts, delete veths (registered as cleanup)
# All cleanup is automatic (lib.sh's EXIT trap).

declare -A HOST_PID=()
declare -A HOST_UNSHARE=()
declare -A HOST_IF=()
HOST_VETHS=()

require_hosts() {
	require_root
	require_cmd unshare nsenter ip
}

host_create() {
	local name=$1 init rdy upid hp
	init=$(wl_path hostinit) || fail "cannot build hostinit"
	rdy=$T/host.$name.ready
	rm -f "$rdy"
	unshare --pid --mount --uts --net --ipc --fork --mount-proc --kill-child \
		"$init" "$rdy" </dev/null >/dev/null 2>&1 &
	upid=$!
	track_pid "$upid"
	HOST_UNSHARE[$name]=$upid
	wait_until 10 test -s "$rdy" || fail "host $name: init did not start"
	[ "$(cat "$rdy")" = 1 ] || fail "host $name: init is pid $(cat "$rdy") inside, expected 1"
	hp=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null)
	hp=${hp%% *}
	[ -n "$hp" ] || fail "host $name: cannot find init pid"
	HOST_PID[$name]=$hp
	track_pid "$hp"
	host_exec "$name" hostname "ferry-$name" || fail "host $name: hostname"
	host_exec "$name" ip link set lo up || fail "host $name: lo up"
	log "host $name: init pid $hp (unshare $upid)"
}

host_exec() {
	local name=$1
	shift
	nsenter -t "${HOST_PID[$name]}" -p -m -u -n -i -- "$@"
}

host_link() {
	local a=$1 b=$2 id ia ib
	id=$(printf '%05d' $(($$ % 100000)))
	ia=fy${id}a
	ib=fy${id}b
	ip link add "$ia" type veth peer name "$ib" || fail "veth create"
	HOST_VETHS+=("$ia" "$ib")
	ip link set "$ia" netns "${HOST_PID[$a]}" || fail "veth $ia -> host $a"
	ip link set "$ib" netns "${HOST_PID[$b]}" || fail "veth $ib -> host $b"
	host_exec "$a" ip addr add 10.77.0.1/24 dev "$ia" || fail "addr A"
	host_exec "$b" ip addr add 10.77.0.2/24 dev "$ib" || fail "addr B"
	host_exec "$a" ip link set "$ia" up || fail "up A"
	host_exec "$b" ip link set "$ib" up || fail "up B"
	HOST_IF[$a]=$ia
	HOST_IF[$b]=$ib
	log "link $a($ia,10.77.0.1) <-> $b($ib,10.77.0.2)"
}

# host_reachable FROM IP: a TCP connect to a closed port is refused (RST) when
# the peer is reachable, and times out otherwise.  No tools needed.
host_reachable() {
	local from=$1 ip=$2 out
	out=$(host_exec "$from" timeout 3 bash -c "exec 3<>/dev/tcp/$ip/9" 2>&1)
	case "$out" in *"refused"*) return 0 ;; esac
	return 1
}

host_tc() {
	local name=$1 rate=$2 burst=$3 lat=$4
	host_exec "$name" tc qdisc replace dev "${HOST_IF[$name]}" root tbf rate "$rate" burst "$burst" latency "$lat"
}

# host_pid_of HOST NSPID -> pid in our namespace of the process that is NSPID
# inside HOST's pid namespace
host_pid_of() {
	local name=$1 want=$2 ns p nsp
	ns=$(readlink "/proc/${HOST_PID[$name]}/ns/pid")
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		nsp=$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null)
		if [ "$nsp" = "$want" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

host_burn_pids() {
	host_exec "$1" sh -c "i=0; while [ \$i -lt $2 ]; do /bin/true; i=\$((i+1)); done"
}

hosts_destroy() {
	local n p
	for n in "${!HOST_PID[@]}"; do
		p=${HOST_PID[$n]}
		kill -TERM "$p" 2>/dev/null
	done
	for n in "${!HOST_PID[@]}"; do
		wait_until 3 test ! -e "/proc/${HOST_PID[$n]}" || kill -KILL "${HOST_PID[$n]}" 2>/dev/null
		kill -KILL "${HOST_UNSHARE[$n]}" 2>/dev/null
		wait_gone "${HOST_UNSHARE[$n]}" 5
	done
	for n in "${HOST_VETHS[@]}"; do
		ip link show "$n" >/dev/null 2>&1 && ip link del "$n"
	done
	HOST_PID=()
	HOST_UNSHARE=()
	HOST_VETHS=()
}
on_cleanup hosts_destroy
