#!/bin/bash
# Mappings of memfds and deleted files move with `ferry send` / `ferry
# receive` between the test hosts, in pre-copy, post-copy and hybrid: the
# mapobjs workload writes through them every 2 ms while the rounds run and
# checks in B that every counter and private page arrived and that the
# mappings and fds are still one object each (mapobjs.c). Pre-copy rounds
# leave these mappings out (their objects are made at the switch): the
# stats of each move are logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl
migrate_setup
receiver_start --key-file "$KEY"

for mode in precopy postcopy hybrid; do
	wl_start_in_a mapobjs
	nspid=$WL_NSPID ctl=$WL_CTL
	sleep 0.5
	ferry_send "$nspid" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "mapobjs ($mode): send failed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone A "$nspid" || fail "mapobjs ($mode): pid $nspid still in A after the move"
	in_b_running "$nspid" || fail "mapobjs ($mode): pid $nspid does not run in B"
	log "mapobjs ($mode): moved, downtime $(json_num "$SEND_STATS" downtime_ms) ms, $(json_num "$SEND_STATS" pages_sent) pages"
	sleep 0.5 # it writes on through its mappings in B
	finish_in B mapobjs "$nspid" "$ctl"
	log "pass: mapobjs ($mode): $OK_LINE"
done
