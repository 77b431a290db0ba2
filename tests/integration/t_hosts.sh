#!/bin/bash
# Two test hosts (pid+mount+uts+net namespaces, joined by a veth): a workload
# started in host A is dumped there and restored in host B with the same pid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
require_hosts
require_ferry

mkdir -p "$T/shared"      # created before the hosts: visible in both
host_create A
host_create B
host_link A B
host_reachable B 10.77.0.1 || fail "host B cannot reach A over the veth"
host_reachable A 10.77.0.2 || fail "host A cannot reach B over the veth"
[ "$(host_exec A hostname)" = ferry-A ] || fail "uts namespace of A"

# push A's pids up so the workload's pid is free in B (where ferry itself runs)
host_burn_pids A 200
# HOSTS_WL=threads8 to migrate the threaded workload instead
wl=${HOSTS_WL:-mem256}
bin=$(wl_path "$wl") || fail "build $wl"
args=()
[ "$wl" = mem256 ] && args=(64)
ctl=$T/shared/ctl
mkdir -p "$ctl"
host_exec A setsid "$bin" "$ctl" "${args[@]}" </dev/null >>"$ctl/log" 2>&1 &
ns_enter_pid=$!
track_pid "$ns_enter_pid"
wait_ready "$ctl" "" 30
nspid=$READY_PID
gpid=$(host_pid_of A "$nspid") || fail "cannot find workload pid $nspid of host A"
track_pid "$gpid"
log "workload: pid $nspid in A (pid $gpid here)"
[ "$nspid" -gt 200 ] || fail "pid in A is $nspid, expected > 200 after burning pids"
host_exec B test -e "/proc/$nspid" && fail "pid $nspid already used in B"
tasks_a=$(host_exec A ls "/proc/$nspid/task" | wc -l)
sleep 0.5

host_exec A timeout 120 "$FERRY" dump --pid "$nspid" --dir "$T/shared/img" >"$T/dump.out" 2>"$T/dump.err"
rc=$?
cat "$T/dump.err"
[ "$rc" = 0 ] || fail "dump inside A failed ($rc)"
wait_gone "$gpid" 15 || fail "workload still present in A after dump"
wait_exit "$ns_enter_pid" 10 || fail "nsenter of A's workload still running"

host_exec B "$FERRY" restore --dir "$T/shared/img" --stats "$T/stats.json" >"$T/restore.out" 2>"$T/restore.err" </dev/null &
rpid=$!
track_pid "$rpid"
RESTORE_ERR=$T/restore.err
gpid_b=""
_found() { gpid_b=$(host_pid_of B "$nspid") && is_restored "$gpid_b"; }
wait_until 60 _found || {
	cat "$T/restore.err"
	fail "no running pid $nspid in host B after restore"
}
track_pid "$gpid_b"
log "restored in B: pid $nspid in B (pid $gpid_b here)"
wait_until 5 test -s "$T/stats.json" || fail "no restore stats from B"
check_pages_path "$T/stats.json" uffdio_copy
[ "$(tr '\0' ' ' <"/proc/$gpid_b/cmdline")" = "$bin $ctl ${args[*]:+${args[*]} }" ] || fail "cmdline in B: $(tr '\0' ' ' <"/proc/$gpid_b/cmdline")"
tasks_b=$(host_exec B ls "/proc/$nspid/task" | wc -l)
[ "$tasks_a" = "$tasks_b" ] || fail "thread count A $tasks_a, B $tasks_b"
[ "$(readlink "/proc/$gpid_b/ns/pid")" = "$(readlink "/proc/${HOST_PID[B]}/ns/pid")" ] || fail "restored process not in B's pid namespace"
[ "$(readlink "/proc/$gpid_b/ns/net")" = "$(readlink "/proc/${HOST_PID[B]}/ns/net")" ] || fail "restored process not in B's net namespace"
sleep 1
touch "$ctl/stop"
wait_exit "$rpid" 60 || fail "restored workload did not exit"
[ "$EXIT_RC" = 0 ] || fail "restore in B exited with $EXIT_RC"
check_ok "$wl" "$ctl/log"
log "pass"
