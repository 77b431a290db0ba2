#!/bin/bash
# Mappings of memfds and deleted files, and System V shared memory, move
# with `ferry send` / `ferry receive` between the test hosts (each with its
# own IPC namespace), in pre-copy, post-copy and hybrid: the mapobjs and
# sysvshm workloads write through them every 2 ms while the rounds run and
# check in B that every counter, page, id, key and attachment arrived and
# that the mappings and fds are still one object each (mapobjs.c,
# sysvshm.c). Pre-copy rounds leave these mappings out (their objects are
# made at the switch): the stats of each move are logged. The segment the
# process had not removed leaves A with it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl
migrate_setup
receiver_start --key-file "$KEY"

segments() { host_exec "$1" awk 'NR > 1' /proc/sysvipc/shm | wc -l; }

for name in mapobjs sysvshm; do
	for mode in precopy postcopy hybrid; do
		wl_start_in_a "$name"
		nspid=$WL_NSPID ctl=$WL_CTL
		sleep 0.5
		ferry_send "$nspid" --key-file "$KEY" --mode "$mode"
		[ "$SEND_RC" = 0 ] || fail "$name ($mode): send failed: $(cat "$SEND_ERR")"
		wait_until 10 ns_gone A "$nspid" || fail "$name ($mode): pid $nspid still in A after the move"
		in_b_running "$nspid" || fail "$name ($mode): pid $nspid does not run in B"
		log "$name ($mode): moved, downtime $(json_num "$SEND_STATS" downtime_ms) ms," \
			"$(json_num "$SEND_STATS" pages_sent) pages, $(json_num "$SEND_STATS" wire_bytes) bytes"
		[ "$(segments A)" = 0 ] || fail "$name ($mode): segments left in A: $(host_exec A cat /proc/sysvipc/shm)"
		sleep 0.5 # it writes on through its mappings in B
		finish_in B "$name" "$nspid" "$ctl"
		log "pass: $name ($mode): $OK_LINE"
	done
done
[ "$(segments B)" = 0 ] || fail "segments left in B: $(host_exec B cat /proc/sysvipc/shm)"
