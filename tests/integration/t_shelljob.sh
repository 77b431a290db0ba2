#!/bin/bash
# --shell-job: a workload whose stdin/controlling terminal is a pty (made by
# `script`) is dumped with --shell-job (a failure is a FAIL), restored under a
# new pty with --shell-job, where its stdin must be ferry restore's own
# terminal, and must finish OK. Skipped only without util-linux's `script`.
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

# --shell-job is supported: a failed dump is a failure (lib.sh's ferry_dump
# has already checked that the process was left running untouched)
ferry_dump "$pid" "$T/img" --shell-job || fail "dump --shell-job failed (rc $DUMP_RC): $(head -c 300 "$DUMP_ERR")"
wait_exit "$spid" 10 || fail "script did not exit after its child was dumped"

setsid script -qfec "'$FERRY' restore --dir '$T/img' --shell-job" /dev/null </dev/null >"$T/script2.out" 2>&1 &
spid2=$!
track_pid "$spid2"
RESTORE_ERR=$T/script2.out
wait_until 60 is_restored "$pid" || {
	cat "$T/script2.out"
	fail "pid $pid not running after restore --shell-job"
}
tty1=$(readlink "/proc/$pid/fd/0")
case "$tty1" in /dev/pts/*) ;; *) fail "restored stdin is $tty1, expected a pty" ;; esac
# it must be the terminal of the restoring session: ferry restore (the
# restored process's parent, running under the second `script`) has it as
# its stdin
fpid=$(pid_ppid "$pid")
[ -n "$fpid" ] && [ "$(readlink "/proc/$fpid/exe")" = "$FERRY" ] ||
	fail "parent of restored pid $pid is ${fpid:-gone} ($(readlink "/proc/$fpid/exe" 2>/dev/null)), expected ferry restore"
ftty=$(readlink "/proc/$fpid/fd/0") || fail "cannot read ferry restore's stdin"
[ "$ftty" = "$tty1" ] || fail "restored stdin $tty1 is not the restoring terminal $ftty"
log "restored with stdin $tty1"
sleep 0.5
stop_wl "$ctl" "$pid" 60
wait_exit "$spid2" 30 || fail "script/ferry restore did not exit"
[ "$EXIT_RC" = 0 ] || fail "ferry restore --shell-job exited with $EXIT_RC: $(cat "$T/script2.out")"
check_ok mem256 "$ctl/log"
log "pass"
