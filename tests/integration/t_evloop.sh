#!/bin/bash
# epoll, timerfd, signalfd and inotify survive a dump and restore: the
# workload's event loop keeps getting every event with its data (eventfd
# oneshot re-armed by EPOLL_CTL_MOD, signals through the signalfd in order,
# IN_CREATE from its inotify watch, which keeps wd 3), its 20 ms timer keeps
# its interval, a 1000 s absolute timer its time left and flags, a never-read
# timer its pile of ticks; a new watch gets wd 4. It checks all of it itself
# after the restore and prints what it counted after the pause.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl evloop
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
ferry_dump "$pid" "$T/img" || fail "dump failed: $(cat "$DUMP_ERR")"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 1
stop_and_check evloop "$WL_CTL" "$pid" "$RESTORE_PID"
check_evloop_after
log "pass: $OK_LINE"
