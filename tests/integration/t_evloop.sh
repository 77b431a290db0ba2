#!/bin/bash
# epoll, timerfd, signalfd and inotify survive a dump and restore: the
# workload's event loop keeps getting every event with its data (eventfd
# oneshot re-armed by EPOLL_CTL_MOD, signals through the signalfd in order,
# IN_CREATE from its inotify watch, which keeps wd 3), its 20 ms timer keeps
# its interval, a 1000 s absolute timer its time left and flags, a never-read
# timer its pile of ticks; a new watch gets wd 4. It checks all of it itself
# when asked to stop, 1 s after the restore (its timer's last 25 ticks, all
# after the restore, and its last read, just before the stop).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

wl_dump_restore evloop
sleep 1
stop_and_check evloop "$WL_CTL" "$WL_PID" "$RESTORE_PID"
[[ $OK_LINE =~ ^OK\ evloop\ rounds=[0-9]+\ ticks=[0-9]+\ retries=[01]$ ]] || fail "unexpected: $OK_LINE"
log "pass: $OK_LINE"
