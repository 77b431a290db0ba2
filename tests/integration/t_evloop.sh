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
# after the pause: ~50 ticks of 20 ms and a few rounds in the second it ran
read -r ticks rounds <<<"$(echo "$OK_LINE" | sed -n 's/.*after_pause: ticks=\([0-9]*\) rounds=\([0-9]*\).*/\1 \2/p')"
[ -n "$ticks" ] || fail "unexpected: $OK_LINE"
[ "$ticks" -ge 30 ] && [ "$rounds" -ge 3 ] || fail "too little after the restore: $OK_LINE"
log "pass: $OK_LINE"
