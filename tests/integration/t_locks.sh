#!/bin/bash
# file locks are held again after a dump and restore: a flock, two POSIX
# locks (a write range, a read range to EOF) and an OFD lock. A second
# process (lockprobe) is refused each of them before the dump and after the
# restore, gets a range nobody locked and a read lock where the holder has a
# read lock, and gets every lock once the workload has exited; the workload
# checks its own fdinfo lists the same locks.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry
probe=$(wl_path lockprobe) || fail "cannot build lockprobe"
start_wl locks
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
locks_held "$WL_CTL"
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
"$probe" "$WL_CTL/flock" flock w || fail "the flock is still held after the dump killed the process"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
locks_held "$WL_CTL"
stop_and_check locks "$WL_CTL" "$pid" "$RESTORE_PID"
[ "$OK_LINE" = "OK locks held=4" ] || fail "unexpected: $OK_LINE"
for args in "flock flock w" "posix posix w 0 0" "ofd ofd w 0 0"; do
	# shellcheck disable=SC2086
	set -- $args
	"$probe" "$WL_CTL/$1" "${@:2}" || fail "lockprobe $args: still refused after the workload exited"
done
log "pass"
