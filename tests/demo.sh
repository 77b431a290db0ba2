#!/bin/bash
# make demo: migrate a running program between two local test hosts.
# Host A and host B are pid+mount+uts+net namespaces joined by a veth pair
# (10.77.0.1 <-> 10.77.0.2). A 256 MiB workload that keeps rewriting its
# memory runs in A; ferry dumps it there, restores it in B with the same
# pid, and the workload then verifies every page. Stats are printed as JSON;
# the restore's must say the pages landed with UFFDIO_COPY.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/integration/lib.sh"
. "$HERE/integration/hosts.sh"
require_hosts
require_ferry
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mkdir -p "$T/shared"
say "creating test hosts A and B"
host_create A
host_create B
host_link A B
host_burn_pids A 300
bin=$(wl_path mem256) || fail "build mem256"
ctl=$T/shared/ctl
mkdir -p "$ctl"

say "starting a 256 MiB workload in host A"
host_exec A setsid "$bin" "$ctl" 256 </dev/null >>"$ctl/log" 2>&1 &
track_pid $!
wait_ready "$ctl" "" 60
nspid=$READY_PID
echo "pid $nspid in host A ($(host_exec A hostname)), $(host_exec A awk '/VmRSS/ {print $2/1024 " MiB resident"}' /proc/$nspid/status)"
sleep 1

say "ferry dump --pid $nspid (in host A)"
host_exec A "$FERRY" dump --pid "$nspid" --dir "$T/shared/img" --stats - || fail "dump failed"
ls -l "$T/shared/img"

say "ferry restore (in host B)"
host_exec B "$FERRY" restore --dir "$T/shared/img" --stats "$T/shared/restore-stats.json" </dev/null &
rpid=$!
track_pid "$rpid"
_running_in_b() { host_exec B awk '/^TracerPid/ {exit $2 != 0}' "/proc/$nspid/status" 2>/dev/null; }
wait_until 30 _running_in_b || fail "not running in B"
echo "pid $nspid now runs in host B ($(host_exec B hostname)): $(host_exec B awk '/^State/ {print $2, $3}' /proc/$nspid/status)"
wait_until 5 test -s "$T/shared/restore-stats.json" || fail "no restore stats"
cat "$T/shared/restore-stats.json"
check_pages_path "$T/shared/restore-stats.json" uffdio_copy
sleep 2

say "asking the workload to verify its memory"
touch "$ctl/stop"
wait_exit "$rpid" 60 || fail "workload did not finish"
cat "$ctl/log" | grep -E '^(OK|FAIL)'
[ "$EXIT_RC" = 0 ] || fail "workload exit status $EXIT_RC"
say "demo complete: the process moved from host A to host B with pid $nspid and intact memory"
