#!/bin/bash
# tree: until process trees are supported, `ferry dump` refuses, before
# anything is stopped, a process that
#   1. has a running child: sh -c 'sleep N; echo done' (the issue's case: the
#      dump used to kill sh and orphan sleep), naming the child;
#   2. leads a process group with another member (not its child);
#   3. leads a session with a member in another process group.
# Each refusal is one exact line; afterwards every process runs untraced, the
# shell writes "done", and the workloads finish their work with their OK line
# and stops=0 (their stop detector saw no ptrace stop).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

TREES="ferry cannot dump process trees yet"
# refused_exactly WHAT WANT: the last dump failed with exactly the line WANT
refused_exactly() {
	local what=$1 want=$2 line
	[ "$DUMP_RC" != 0 ] || fail "$what: ferry dump succeeded, expected a refusal"
	[ "$DUMP_RC" != 124 ] || fail "$what: ferry dump timed out"
	[ "$(grep -c . "$DUMP_ERR")" = 1 ] || fail "$what: expected one stderr line, got: $(cat "$DUMP_ERR")"
	line=$(cat "$DUMP_ERR")
	[ "$line" = "$want" ] || fail "$what: wrong refusal
   got: $line
  want: $want"
	log "$what: refused: $line"
	[ ! -e "$T/img.$what/image.ferry" ] || fail "$what: the refused dump left an image behind"
}

# untouched PID...: each runs (or sleeps), untraced, for a while
untouched() {
	local i p
	for i in 1 2 3 4 5; do
		for p in "$@"; do
			is_running_free "$p" || fail "pid $p disturbed: state $(pid_state "$p"), TracerPid $(pid_tracer "$p")"
		done
		sleep 0.1
	done
}

# ---- 1. a shell with a running child
SLEEP_S=4
setsid sh -c "sleep $SLEEP_S; echo done" </dev/null >"$T/sh.out" 2>&1 &
sh_pid=$!
track_pid "$sh_pid"
wait_until 5 grep -q . "/proc/$sh_pid/task/$sh_pid/children" || fail "sh has no child"
child=$(cat "/proc/$sh_pid/task/$sh_pid/children")
child=${child%% }
[ "$(tr '\0' ' ' <"/proc/$child/cmdline")" = "sleep $SLEEP_S " ] || fail "child $child is not sleep"
ferry_dump "$sh_pid" "$T/img.shell"
refused_exactly shell "ferry: dump: pid $sh_pid has 1 child process: $(described "$child" "sleep $SLEEP_S"): $TREES"
untouched "$sh_pid" "$child"
wait_exit "$sh_pid" $((SLEEP_S + 10)) || fail "sh did not finish"
[ "$EXIT_RC" = 0 ] || fail "sh exited with $EXIT_RC"
[ "$(cat "$T/sh.out")" = done ] || fail "sh wrote [$(cat "$T/sh.out")], expected [done]"
log "shell: ran on and wrote 'done'"

# ---- 2, 3. a group leader / session leader with a member that is not its child
for mode in group session; do
	start_wl tree "$mode"
	pid=$WL_PID
	wait_ready "$WL_CTL" "$pid"
	member=$(cat "$WL_CTL/member")
	read -r _ _ mpgid msid _ < <(sed 's/.*) //' "/proc/$member/stat")
	if [ "$mode" = group ]; then
		[ "$mpgid" = "$pid" ] && [ "$msid" = "$pid" ] || fail "group: member $member in group $mpgid session $msid"
		rel="is the process group id of"
	else
		[ "$mpgid" = "$member" ] && [ "$msid" = "$pid" ] || fail "session: member $member in group $mpgid session $msid"
		rel="is the session id of"
	fi
	[ -z "$(cat "/proc/$pid/task/"*/children)" ] || fail "$mode: the leader has children"
	sleep 0.2
	ferry_dump "$pid" "$T/img.$mode"
	refused_exactly "$mode" "ferry: dump: pid $pid $rel 1 other process: $(described "$member" "$WL_BIN $WL_CTL $mode"): $TREES"
	untouched "$pid" "$member"
	touch "$WL_CTL/stop"
	wait_exit "$pid" 60 || fail "$mode: workload did not exit after stop"
	[ "$EXIT_RC" = 0 ] || fail "$mode: workload exited with $EXIT_RC: $(tail -n 3 "$WL_LOG")"
	check_ok tree "$WL_LOG"
	[[ $OK_LINE == "OK tree mode=$mode "*" stops=0" ]] || fail "$mode: unexpected OK line (stopped?): $OK_LINE"
	wait_gone "$member" 10 || fail "$mode: member $member did not exit"
done
log "pass"
