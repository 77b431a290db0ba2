#!/bin/bash
# make demo: live-migrate a running program between two local test hosts.
# Host A and host B are pid+mount+uts+net namespaces joined by a veth pair
# (10.77.0.1 <-> 10.77.0.2). A 256 MiB workload that rewrites 5000 random
# pages per second runs in A; `ferry receive` listens in B; `ferry send`
# moves the running process over TLS (a pre-shared key) to B with pre-copy:
# rounds while it runs, then a short pause. In B it keeps its pid, then
# verifies every page and says the longest pause it saw itself. Both sides'
# statistics are printed as JSON.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/integration/lib.sh"
. "$HERE/integration/hosts.sh"
. "$HERE/integration/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "creating test hosts A (10.77.0.1) and B (10.77.0.2), and a key"
migrate_setup

say "ferry receive in host B"
receiver_start --key-file "$KEY" --stats-json "$SH/receive-stats.json"
cat "$RECV_ERR"

say "starting a 256 MiB workload in host A (rewrites 5000 random pages/s)"
wl_start_in_a dirtier 256 5000 random
nspid=$WL_NSPID
echo "pid $nspid in host A ($(host_exec A hostname)), $(host_exec A awk '/VmRSS/ {print $2/1024 " MiB resident"}' /proc/$nspid/status)"
sleep 1

say "ferry send --pid $nspid --to 10.77.0.2:$PORT (in host A)"
ferry_send "$nspid" --key-file "$KEY"
[ "$SEND_RC" = 0 ] || fail "send failed: $(cat "$SEND_ERR")"
cat "$SEND_STATS"
cat "$RECV_OUT"
in_b_running "$nspid" || fail "pid $nspid does not run in B"
ns_gone A "$nspid" || fail "pid $nspid is still in A"
echo "pid $nspid now runs in host B ($(host_exec B hostname)): $(host_exec B awk '/^State/ {print $2, $3}' /proc/$nspid/status)"
echo "pre-copy: $(grep -o '"round":[0-9]*' "$SEND_STATS" | wc -l) round(s) while it ran, ended by rule $(json_str "$SEND_STATS" rule)"
echo "downtime (frozen in A until running in B): $(json_num "$SEND_STATS" downtime_ms) ms (expected $(json_num "$SEND_STATS" expected_downtime_ms) ms)"
wait_until 5 test -s "$SH/receive-stats.json" || fail "no receive stats"
cat "$SH/receive-stats.json"
[ "$(json_str "$SH/receive-stats.json" pages_path)" = uffdio_copy ] || fail "pages did not land with UFFDIO_COPY"
sleep 2

say "asking the workload to verify its memory"
finish_in B dirtier "$nspid" "$WL_CTL"
echo "the workload's own words: $(grep -E '^OK' "$WL_CTL/log")"
say "demo complete: the running process moved from host A to host B with pid $nspid and intact memory"
