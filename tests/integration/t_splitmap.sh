#!/bin/bash
# Mappings split by mprotect (a private and a shared anonymous one, with
# data in their read-only pieces, and a private one with a read-only page
# without data between pieces with data) survive dump/restore and every
# migration mode as the kernel had them: after the workload makes the
# pieces accessible again each region is one mapping again (a private one
# rebuilt from separately filled pieces would stay split and its mremap
# would fail), and every page holds what it should.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_root
require_ferry

start_wl splitmap
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.2
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.2
stop_and_check splitmap "$WL_CTL" "$pid" "$RESTORE_PID"
[ "$OK_LINE" = "OK splitmap private=1 shared=1 hole=1" ] || fail "restore: $OK_LINE"
log "restore: $OK_LINE"

require_hosts
require_cmd openssl
migrate_setup
receiver_start --key-file "$KEY"
for mode in precopy stop-and-copy postcopy hybrid; do
	wl_start_in_a splitmap
	nspid=$WL_NSPID ctl=$WL_CTL
	sleep 0.3
	ferry_send "$nspid" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "$mode: send failed: $(cat "$SEND_ERR")"
	wait_until 10 ns_gone A "$nspid" || fail "$mode: still in A"
	finish_in B splitmap "$nspid" "$ctl"
	grep -q "^OK splitmap private=1 shared=1 hole=1" "$ctl/log" || fail "$mode: $(grep ^OK "$ctl/log")"
	log "$mode: $(grep ^OK "$ctl/log")"
done
log "pass"
