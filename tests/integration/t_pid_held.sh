#!/bin/bash
# pid_held: a pid can outlive its process as the session (or process group)
# id of processes the process left behind; clone3(set_tid) then finds it
# taken although /proc/PID is gone.  The restore must say so, naming a holder,
# leave nothing behind, and succeed once the holders have exited.
# Also the positive control of the stop detector the refusal tests rely on:
# the dump below does freeze the process, and the workload counts stops=1.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl tree orphan
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.2
ferry_dump "$pid" "$T/img" --leave-running || fail "dump failed: $(cat "$DUMP_ERR")"

# now it forks a child that leaves its group (stays in its session), and ends
touch "$WL_CTL/fork"
wait_until 10 test -s "$WL_CTL/member" || fail "no member started"
member=$(cat "$WL_CTL/member")
touch "$WL_CTL/stop"
wait_exit "$pid" 60 || fail "workload did not exit after stop"
[ "$EXIT_RC" = 0 ] || fail "workload exited with $EXIT_RC: $(tail -n 3 "$WL_LOG")"
check_ok tree "$WL_LOG"
[[ $OK_LINE == "OK tree mode=orphan "*" stops=1" ]] || fail "the stop detector did not count the dump's freeze: $OK_LINE"
wait_gone "$pid" 10 || fail "pid $pid still present"
read -r _ _ mpgid msid _ < <(sed 's/.*) //' "/proc/$member/stat")
[ "$mpgid" = "$member" ] && [ "$msid" = "$pid" ] || fail "member $member in group $mpgid session $msid"
rm -f "$WL_CTL/fork" "$WL_CTL/stop"

# 1. the pid is held only as the member's session id
ferry_restore_sync "$T/img" --detach && fail "restore succeeded although pid $pid is a session id"
want="ferry: restore: pid $pid is taken in this pid namespace: no process has it, but it is still the session id of pid $(described "$member" "$WL_BIN $WL_CTL orphan"); it is free once they exit"
[ "$(cat "$RESTORE_ERR")" = "$want" ] || fail "wrong refusal
   got: $(cat "$RESTORE_ERR")
  want: $want"
[ ! -e "/proc/$pid" ] || fail "the failed restore left pid $pid behind (state $(pid_state "$pid"))"
is_running_free "$member" || fail "member $member disturbed: state $(pid_state "$member")"
log "refused: $(cat "$RESTORE_ERR")"

# 2. once the member is gone (and reaped), the same image restores
touch "$WL_CTL/member-stop"
wait_gone "$member" 15 || fail "member $member did not go away"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
stop_and_check tree "$WL_CTL" "$pid" "$RESTORE_PID" 2
[[ $OK_LINE == "OK tree mode=orphan "* ]] || fail "unexpected OK line: $OK_LINE"
log "pass"
