#!/bin/bash
# --shell-job: a workload whose stdin/controlling terminal is a pty (made by
# `script`).  If ferry refuses the terminal, the refusal must be clean (the
# process keeps running untouched) and the test is skipped; otherwise the
# process is restored under a new pty with --shell-job and must finish OK.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd script
require_ferry

bin=$(wl_path mem256) || fail "build mem256"
ctl=$T/ctl
mkdir -p "$ctl"
# close every inherited fd > 2 (script leaks some) before exec'ing the workload
cat >"$T/job.sh" <<JOB
for f in \$(ls /proc/\$\$/fd); do [ \$f -gt 2 ] && eval "exec \$f>&-"; done
exec '$bin' '$ctl' 16 >>'$ctl/log' 2>&1
JOB
setsid script -qfec "bash $T/job.sh" /dev/null </dev/null >"$T/script1.out" 2>&1 &
spid=$!
track_pid "$spid"
wait_ready "$ctl" "" 30
pid=$READY_PID
track_pid "$pid"
tty0=$(readlink "/proc/$pid/fd/0")
case "$tty0" in /dev/pts/*) ;; *) fail "workload stdin is $tty0, expected a pty" ;; esac
log "workload pid $pid, stdin $tty0, fds: $(ls "/proc/$pid/fd" | tr '\n' ' ')"
sleep 0.3

ferry_dump "$pid" "$T/img" --shell-job
if [ "$DUMP_RC" != 0 ]; then
	grep -q '^ferry:' "$DUMP_ERR" || fail "failed dump without a 'ferry:' line: $(head -c 300 "$DUMP_ERR")"
	for i in 1 2 3; do
		is_running_free "$pid" || fail "refused dump left the process disturbed: state $(pid_state "$pid") tracer $(pid_tracer "$pid")"
		sleep 0.1
	done
	stop_wl "$ctl" "$pid" 60
	check_ok mem256 "$ctl/log"
	skip "ferry refuses tty jobs ($(grep '^ferry:' "$DUMP_ERR" | head -n1)); refusal was clean"
fi
wait_exit "$spid" 10 || fail "script did not exit after its child was dumped"

setsid script -qfec "'$FERRY' restore --dir '$T/img' --shell-job" /dev/null </dev/null >"$T/script2.out" 2>&1 &
spid2=$!
track_pid "$spid2"
RESTORE_ERR=$T/script2.out
wait_until 60 is_running_free "$pid" || {
	cat "$T/script2.out"
	fail "pid $pid not running after restore --shell-job"
}
tty1=$(readlink "/proc/$pid/fd/0")
case "$tty1" in /dev/pts/*) ;; *) fail "restored stdin is $tty1, expected a pty" ;; esac
# it must be the terminal of the restoring session (ferry's stdin under script)
fpid=$(cat "/proc/$spid2/task/$spid2/children" 2>/dev/null)
fpid=${fpid%% *}
if [ -n "$fpid" ] && [ -e "/proc/$fpid/fd/0" ]; then
	ftty=$(readlink "/proc/$fpid/fd/0")
	[ "$ftty" = "$tty1" ] || fail "restored stdin $tty1 is not the restoring terminal $ftty"
fi
log "restored with stdin $tty1"
sleep 0.5
stop_wl "$ctl" "$pid" 60
wait_exit "$spid2" 30 || fail "script/ferry restore did not exit"
[ "$EXIT_RC" = 0 ] || fail "ferry restore --shell-job exited with $EXIT_RC: $(cat "$T/script2.out")"
check_ok mem256 "$ctl/log"
log "pass"
