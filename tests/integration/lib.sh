# shellcheck shell=bash
# Shared helpers for ferry integration tests.  Source it from a t_*.sh script:
#   . "$(dirname "$0")/lib.sh"
# Environment:
#   FERRY           ferry binary (default $ROOT/build/ferry)
#   TEST_TMP        scratch dir for this test (run.sh sets it; else one is made)
#   FERRY_WORKLOADS prebuilt workloads dir (default $ROOT/build/workloads)
#   FERRY_WL_CACHE  where missing/stale workloads are compiled (default /tmp/ferry-wl-cache)
#   FERRY_KEEP=1    keep TEST_TMP even on success (standalone runs)
# Conventions: exit 0 = pass, 77 = skip (after a line "SKIP: reason"), else fail.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FERRY=${FERRY:-$ROOT/build/ferry}
[ -e "$FERRY" ] && FERRY=$(readlink -f "$FERRY")
WL_SRC=$ROOT/tests/workloads
WL_BUILD=${FERRY_WORKLOADS:-$ROOT/build/workloads}
WL_CACHE=${FERRY_WL_CACHE:-/tmp/ferry-wl-cache}
TEST_NAME=$(basename "$0" .sh)

if [ -n "${TEST_TMP:-}" ]; then
	T=$TEST_TMP
	LIB_OWN_TMP=0
else
	T=$(mktemp -d "/tmp/ferry-it.$TEST_NAME.XXXXXX")
	LIB_OWN_TMP=1
fi
mkdir -p "$T"
T=$(cd "$T" && pwd)
cd "$T" || exit 1

# Close inherited descriptors > 2 (e.g. a pipe leaked by the caller's
# environment): workloads must start with only the fds they open themselves,
# ferry refuses pipes.  Bash's own fd on this script is kept.
lib_close_inherited_fds() {
	local fd tgt self
	self=$(readlink -f "$0")
	for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
		[ "$fd" -gt 2 ] || continue
		tgt=$(readlink "/proc/$BASHPID/fd/$fd" 2>/dev/null) || continue
		[ "$tgt" = "$self" ] && continue
		eval "exec $fd>&-" 2>/dev/null
	done
}
lib_close_inherited_fds

LIB_PIDS=()        # processes we started (workloads, ferry, helpers)
LIB_CLEANUP_CMDS=() # extra cleanup commands (eval'ed, last first)
LIB_SEQ=0

# ---------------------------------------------------------------- basics
now() { date +%s.%N; }
log() { echo "[$(date +%T.%3N)] $*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}
track_pid() { LIB_PIDS+=("$1"); }
on_cleanup() { LIB_CLEANUP_CMDS+=("$*"); }

require_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "command $c not available"
	done
}
require_ferry() {
	[ -x "$FERRY" ] || fail "ferry binary not found or not executable: $FERRY (build it, or set FERRY=)"
}

# pid_state PID -> one letter (R S D T t Z X ...) or "-" when gone
pid_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo -
		return
	}
	s=${s##*) }
	echo "${s%% *}"
}
# pid_ppid PID -> parent pid (in our namespace) or empty
pid_ppid() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	s=${s#* }
	echo "${s%% *}"
}
pid_tracer() { awk '/^TracerPid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
pid_alive() { # exists and is not a zombie
	local st
	st=$(pid_state "$1")
	[ "$st" != - ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_until TIMEOUT_S CMD... : poll CMD every 50 ms; 0 when it succeeded
wait_until() {
	local tmo=$1
	shift
	local end
	end=$(($(date +%s%N) + ${tmo%.*} * 1000000000))
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# wait_gone PID [TIMEOUT=10]: until /proc/PID vanishes (zombies of pid 1 may
# linger ~2 s on these machines).  Reaps it if it is our zombie child.
wait_gone() {
	local pid=$1 tmo=${2:-10}
	_gone_or_reap() {
		local st
		st=$(pid_state "$pid")
		[ "$st" = - ] && return 0
		if [ "$st" = Z ] && [ "$(pid_ppid "$pid")" = "$$" ]; then
			wait "$pid" 2>/dev/null
			[ "$(pid_state "$pid")" = - ] && return 0
		fi
		return 1
	}
	wait_until "$tmo" _gone_or_reap
}

# wait_exit PID TIMEOUT : for a child of this shell: bounded wait, then sets
# EXIT_RC to its exit status (124 on timeout, the process is then left alone).
wait_exit() {
	local pid=$1 tmo=$2
	_exited() {
		local st
		st=$(pid_state "$pid")
		[ "$st" = - ] || [ "$st" = Z ]
	}
	if ! wait_until "$tmo" _exited; then
		EXIT_RC=124
		return 1
	fi
	wait "$pid" 2>/dev/null
	EXIT_RC=$?
	return 0
}

# ---------------------------------------------------------------- workloads
# wl_path NAME -> path of the workload binary (compiles into the cache when
# build/workloads/NAME is missing or older than its source).
wl_path() {
	local n=$1 src=$WL_SRC/$1.c b
	[ -f "$src" ] || {
		echo "no workload source $src" >&2
		return 1
	}
	b=$WL_BUILD/$n
	if [ -x "$b" ] && [ ! "$src" -nt "$b" ] && [ ! "$WL_SRC/common.h" -nt "$b" ]; then
		echo "$b"
		return 0
	fi
	b=$WL_CACHE/$n
	if [ -x "$b" ] && [ ! "$src" -nt "$b" ] && [ ! "$WL_SRC/common.h" -nt "$b" ]; then
		echo "$b"
		return 0
	fi
	mkdir -p "$WL_CACHE" || return 1
	local extra=""
	[ "$n" = avx ] && extra="-mavx2"
	# shellcheck disable=SC2086
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread $extra -o "$b.tmp.$$" "$src" -lm >&2 || return 1
	mv -f "$b.tmp.$$" "$b" || return 1
	echo "$b"
}

# start_wl NAME [ARGS...]: starts NAME in its own session with a fresh control
# dir.  Sets WL_PID, WL_CTL (control dir), WL_LOG (stdout+stderr, O_APPEND),
# WL_BIN.
start_wl() {
	local name=$1
	shift
	WL_BIN=$(wl_path "$name") || fail "cannot build workload $name"
	LIB_SEQ=$((LIB_SEQ + 1))
	WL_CTL=$T/ctl.$name.$LIB_SEQ
	mkdir -p "$WL_CTL"
	WL_LOG=$WL_CTL/log
	: >"$WL_LOG"
	setsid "$WL_BIN" "$WL_CTL" "$@" </dev/null >>"$WL_LOG" 2>&1 &
	WL_PID=$!
	track_pid "$WL_PID"
	log "started $name pid $WL_PID ctl $WL_CTL"
}

# wait_ready CTL [PID] [TIMEOUT=60]: waits for CTL/ready; fails early if PID died.
# Sets READY_PID to the pid the workload wrote (its pid in its own namespace).
wait_ready() {
	local ctl=$1 pid=${2:-} tmo=${3:-60}
	_ready() {
		[ -s "$ctl/ready" ] && return 0
		if [ -n "$pid" ] && ! pid_alive "$pid"; then
			return 0
		fi
		return 1
	}
	wait_until "$tmo" _ready || {
		tail -n 20 "$ctl/log" 2>/dev/null
		fail "workload ($ctl) not ready after ${tmo}s"
	}
	if [ ! -s "$ctl/ready" ]; then
		tail -n 20 "$ctl/log" 2>/dev/null
		fail "workload pid $pid died before ready"
	fi
	READY_PID=$(head -n1 "$ctl/ready")
	if [ -n "$pid" ] && [ "$READY_PID" != "$pid" ]; then
		fail "workload says pid $READY_PID, we started $pid"
	fi
}

# stop_wl CTL PID [TIMEOUT=120]: touch CTL/stop, wait (bounded) for PID to
# disappear.  Does not check the result (see check_ok / stop_and_check).
stop_wl() {
	local ctl=$1 pid=$2 tmo=${3:-120}
	touch "$ctl/stop"
	wait_gone "$pid" "$tmo" || {
		tail -n 20 "$ctl/log"
		fail "pid $pid did not exit within ${tmo}s after stop (state $(pid_state "$pid"))"
	}
}

# check_ok NAME LOG [COUNT=1]: exactly COUNT "OK NAME" lines and no FAIL line.
# Sets OK_LINE to the last OK line.
check_ok() {
	local name=$1 lg=$2 want=${3:-1} n
	if grep -q "^FAIL" "$lg"; then
		grep "^FAIL" "$lg"
		tail -n 20 "$lg"
		fail "workload $name reported FAIL"
	fi
	n=$(grep -c "^OK $name\\b" "$lg")
	if [ "$n" != "$want" ]; then
		tail -n 20 "$lg"
		fail "expected $want 'OK $name' line(s) in $lg, found $n"
	fi
	OK_LINE=$(grep "^OK $name\\b" "$lg" | tail -n1)
	log "workload: $OK_LINE"
}

# stop_and_check NAME CTL PID [RESTORE_PID] [COUNT=1]
# touch stop, wait for PID to vanish; if RESTORE_PID (a background
# `ferry restore` without --detach) is given, its exit status must be 0;
# then check the OK line(s).
# check_numbered_lines FILE LINES_AT_DUMP: after filewriter's OK line (in
# OK_LINE), FILE holds exactly "line 00000001".."line N" in order, N being the
# count the workload reports, and more lines than at dump time.
# Sets LINES_CHECKED=N.
check_numbered_lines() {
	local f=$1 at_dump=$2 n
	n=${OK_LINE##*lines=}
	n=${n%% *}
	[ "$n" -gt "$at_dump" ] || fail "no lines written after restore ($n <= $at_dump)"
	awk -v n="$n" '{ want = sprintf("line %08d", NR); if ($0 != want) { print "line " NR ": [" $0 "] expected [" want "]"; bad = 1; exit } }
		END { if (!bad && NR != n) { print "file has " NR " lines, workload says " n; bad = 1 } exit bad }' "$f" ||
		fail "file content check failed"
	LINES_CHECKED=$n
}

stop_and_check() {
	local name=$1 ctl=$2 pid=$3 rpid=${4:-} cnt=${5:-1}
	stop_wl "$ctl" "$pid" 120
	if [ -n "$rpid" ]; then
		wait_exit "$rpid" 30 || fail "ferry restore (pid $rpid) still running after its process exited"
		if [ "$EXIT_RC" != 0 ]; then
			tail -n 20 "$ctl/log"
			cat "$RESTORE_ERR" 2>/dev/null
			fail "ferry restore exited with $EXIT_RC (workload exit status), expected 0"
		fi
	fi
	check_ok "$name" "$ctl/log" "$cnt"
}

# ---------------------------------------------------------------- ferry
# ferry_dump PID DIR [OPTS...]: runs ferry dump (bounded).  Sets DUMP_RC,
# DUMP_ERR (stderr file).  Without --leave-running, on success waits (bounded)
# until the process is gone (reaping it if it is our child).
ferry_dump() {
	local pid=$1 dir=$2
	shift 2
	LIB_SEQ=$((LIB_SEQ + 1))
	DUMP_ERR=$T/dump.$LIB_SEQ.err
	local t0 t1 existed=0
	pid_alive "$pid" && existed=1
	t0=$(date +%s%N)
	timeout -k 5 120 "$FERRY" dump --pid "$pid" --dir "$dir" "$@" >"$T/dump.$LIB_SEQ.out" 2>"$DUMP_ERR"
	DUMP_RC=$?
	t1=$(date +%s%N)
	log "ferry dump --pid $pid --dir $dir $* -> rc $DUMP_RC in $(((t1 - t0) / 1000000)) ms"
	if [ "$DUMP_RC" != 0 ]; then
		sed 's/^/  dump stderr: /' "$DUMP_ERR"
		# contract: a failed dump leaves the process running untouched
		if [ "$existed" = 1 ] && [ "$DUMP_RC" != 124 ] && pid_alive "$pid"; then
			wait_until 3 is_running_free "$pid" ||
				fail "failed dump left pid $pid disturbed (state $(pid_state "$pid"), TracerPid $(pid_tracer "$pid"))"
		fi
		return "$DUMP_RC"
	fi
	case " $* " in
	*" --leave-running "*) ;;
	*)
		wait_gone "$pid" 15 || fail "pid $pid still present 15 s after a successful dump (state $(pid_state "$pid"))"
		;;
	esac
	return 0
}

# ferry_restore DIR [OPTS...]: starts `ferry restore` in the background.
# Sets RESTORE_PID, RESTORE_ERR.  Use wait_restored to wait for the process.
ferry_restore() {
	local dir=$1
	shift
	LIB_SEQ=$((LIB_SEQ + 1))
	RESTORE_ERR=$T/restore.$LIB_SEQ.err
	"$FERRY" restore --dir "$dir" "$@" >"$T/restore.$LIB_SEQ.out" 2>"$RESTORE_ERR" </dev/null &
	RESTORE_PID=$!
	track_pid "$RESTORE_PID"
	log "ferry restore --dir $dir $* (ferry pid $RESTORE_PID)"
}

# ferry_restore_sync DIR [OPTS...]: runs restore in the foreground (bounded,
# for --detach or for expected failures).  Sets RESTORE_RC, RESTORE_ERR.
ferry_restore_sync() {
	local dir=$1
	shift
	LIB_SEQ=$((LIB_SEQ + 1))
	RESTORE_ERR=$T/restore.$LIB_SEQ.err
	timeout -k 5 120 "$FERRY" restore --dir "$dir" "$@" >"$T/restore.$LIB_SEQ.out" 2>"$RESTORE_ERR" </dev/null
	RESTORE_RC=$?
	log "ferry restore --dir $dir $* -> rc $RESTORE_RC"
	[ "$RESTORE_RC" = 0 ] || sed 's/^/  restore stderr: /' "$RESTORE_ERR"
	return "$RESTORE_RC"
}

# json_num FILE KEY / json_str FILE KEY: the first number or string value of
# "KEY" in a one-line JSON stats file (ferry's flat stats; keys are unique).
# wl_dump_restore NAME [ARGS...]: starts workload NAME, lets it run 0.5 s,
# dumps it and restores it; it runs again as $WL_PID (ferry restore is
# $RESTORE_PID). The caller then checks it (stop_and_check ...).
wl_dump_restore() {
	start_wl "$@"
	local img=$T/img.$1.$LIB_SEQ
	wait_ready "$WL_CTL" "$WL_PID"
	sleep 0.5
	ferry_dump "$WL_PID" "$img" || fail "$1: dump failed: $(cat "$DUMP_ERR")"
	ferry_restore "$img"
	wait_restored "$WL_PID" "$RESTORE_PID"
}

# locks_held DIR [PREFIX...]: each lock the locks workload holds in DIR is
# refused to another process (lockprobe, run as PREFIX lockprobe ..., e.g.
# host_exec B), which gets the ranges nobody locked
locks_held() {
	local d=$1 probe rc spec want file kind rest
	shift
	probe=$(wl_path lockprobe) || fail "cannot build lockprobe"
	for spec in "1 flock flock w" "1 flock flock r" "1 posix posix w 15 1" "1 posix posix r 20 5" \
		"1 posix posix w 150 1" "1 ofd ofd r 4 1" "0 posix posix w 30 70" "0 posix posix r 100 50" \
		"0 ofd ofd w 5 100"; do
		read -r want file kind rest <<<"$spec"
		# shellcheck disable=SC2086
		"$@" "$probe" "$d/$file" "$kind" $rest
		rc=$?
		[ "$rc" = "$want" ] || fail "lockprobe $file $kind $rest: exit $rc, expected $want (1: refused, the lock is held)"
	done
}
json_num() { grep -o "\"$2\":[0-9.]*" "$1" | head -n1 | cut -d: -f2; }
json_str() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -n1 | cut -d'"' -f4; }

# check_pages_path STATS PATH [MIN_PCT=50]: the restore's stats (--stats FILE)
# say pages landed by PATH (uffdio_copy | process_vm_writev), the per-path
# counts add up to "pages", and PATH carried more than MIN_PCT % of them (the
# rest: /proc/PID/mem for read-only mappings, overwrites of present pages).
check_pages_path() {
	local f=$1 want=$2 pct=${3:-50} got pages uc vw pm main
	[ -s "$f" ] || fail "no restore stats in $f"
	got=$(json_str "$f" pages_path)
	pages=$(json_num "$f" pages)
	uc=$(json_num "$f" uffdio_copy)
	vw=$(json_num "$f" process_vm_writev)
	pm=$(json_num "$f" proc_mem)
	[ -n "$pages" ] && [ -n "$uc" ] && [ -n "$vw" ] && [ -n "$pm" ] || fail "restore stats lack page counts per path: $(cat "$f")"
	[ "$got" = "$want" ] || fail "pages landed by '$got', expected '$want' ($(json_str "$f" pages_path_why)): $(cat "$f")"
	[ $((uc + vw + pm)) = "$pages" ] || fail "page counts per path ($uc + $vw + $pm) do not add up to $pages"
	case $want in uffdio_copy) main=$uc ;; process_vm_writev) main=$vw ;; *) fail "unknown path $want" ;; esac
	[ $((main * 100)) -gt $((pages * pct)) ] || fail "only $main of $pages pages came by $want (want > $pct %): $(cat "$f")"
	[ "$want" = uffdio_copy ] || [ "$uc" = 0 ] || fail "$uc pages came by UFFDIO_COPY on the $want path"
	log "pages path $got: uffdio_copy $uc, process_vm_writev $vw, proc_mem $pm of $pages"
}

# is_running_free PID: alive, not stopped, not traced
is_running_free() {
	local st tr
	st=$(pid_state "$1")
	case "$st" in R | S | D) ;; *) return 1 ;; esac
	tr=$(pid_tracer "$1")
	[ "$tr" = 0 ]
}

# is_restored PID: running freely and no longer ferry's restore stub. The
# stub has the pid from its clone3 on and runs ferry's code, untraced, until
# ferry seizes it: it looks free then, but its exe is still ferry.
is_restored() {
	is_running_free "$1" && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" != "$FERRY" ]
}

# wait_restored PID [PARENT] [TIMEOUT=60]: waits until PID runs freely (not
# stopped, not traced, not the stub) and, if PARENT is given, is PARENT's
# child; fails if the background restore (RESTORE_PID) exits first.
wait_restored() {
	local pid=$1 parent=${2:-} tmo=${3:-60}
	_restored() {
		if is_restored "$pid"; then
			[ -z "$parent" ] || [ "$(pid_ppid "$pid")" = "$parent" ] || return 1
			return 0
		fi
		if [ -n "${RESTORE_PID:-}" ] && ! pid_alive "$RESTORE_PID"; then
			return 0
		fi
		return 1
	}
	wait_until "$tmo" _restored || fail "pid $pid not running ${tmo}s after restore (state $(pid_state "$pid"), tracer $(pid_tracer "$pid"))"
	if ! is_restored "$pid"; then
		local rrc='still running'
		if [ -n "${RESTORE_PID:-}" ] && ! pid_alive "$RESTORE_PID"; then # never wait for a running ferry
			wait "$RESTORE_PID" 2>/dev/null
			rrc=$?
		fi
		sed 's/^/  restore stderr: /' "$RESTORE_ERR" 2>/dev/null
		fail "restore failed (ferry exited with $rrc) and pid $pid is not running"
	fi
	# it must stay up (not crash right after being let go)
	sleep 0.3
	is_restored "$pid" || fail "restored pid $pid is not running freely 0.3 s after restore (state $(pid_state "$pid"))"
	log "pid $pid restored and running"
}

# proc_snapshot PID FILE: the parts of /proc/PID a faithful restore keeps
# (ids, signal masks/dispositions, threads, cwd, exe, cmdline, fds + flags,
# limits, mappings with adjacent identical ranges merged).
proc_snapshot() {
	local pid=$1 out=$2 fd tid
	{
		echo "## status"
		grep -E '^(Uid|Gid|Groups|SigIgn|SigCgt|Threads|NoNewPrivs|Seccomp|Umask|CapEff|CapPrm|CapBnd|NSpid):' "/proc/$pid/status"
		echo "## tasks"
		for tid in $(ls "/proc/$pid/task" | sort -n); do
			echo "$tid $(grep '^SigBlk' "/proc/$pid/task/$tid/status" 2>/dev/null)"
		done
		echo "## cwd $(readlink "/proc/$pid/cwd")"
		echo "## exe $(readlink "/proc/$pid/exe")"
		echo "## cmdline $(tr '\0' ' ' <"/proc/$pid/cmdline")"
		echo "## personality $(cat "/proc/$pid/personality" 2>/dev/null)"
		echo "## fds"
		for fd in $(ls "/proc/$pid/fd" | sort -n); do
			echo "$fd -> $(readlink "/proc/$pid/fd/$fd") $(grep '^flags' "/proc/$pid/fdinfo/$fd" 2>/dev/null)"
		done
		echo "## limits"
		cat "/proc/$pid/limits"
		echo "## maps"
		awk '{
			split($1, r, "-"); s = strtonum("0x" r[1]); e = strtonum("0x" r[2]);
			path = ""; for (i = 6; i <= NF; i++) path = path (i > 6 ? " " : "") $i;
			off = strtonum("0x" $3);
			if (n && s == pe && $2 == pp && path == ppath && (path == "" || off == poff + (pe - ps))) { pe = e; next }
			if (n) printf "%x-%x %s %s\n", ps, pe, pp, ppath;
			n = 1; ps = s; pe = e; pp = $2; ppath = path; poff = off
		} END { if (n) printf "%x-%x %s %s\n", ps, pe, pp, ppath }' "/proc/$pid/maps"
	} >"$out" 2>/dev/null
}

# proc_compare BEFORE AFTER: fail with a diff if they differ
proc_compare() {
	if ! diff -u "$1" "$2" >"$2.diff"; then
		sed 's/^/  /' "$2.diff" | head -n 60
		fail "process state differs after restore (see diff above)"
	fi
	log "process state identical after restore ($(grep -c . "$1") lines compared)"
}

# described PID CMDLINE: how ferry names a process in a message: "PID (CMD)",
# CMD being the command line with argv[0] cut to its last component and the
# whole cut to DESCRIBE_MAX chars (57 + "...") as proc_describe() does.
DESCRIBE_MAX=60
described() {
	local argv0=${2%% *} c
	c=${argv0##*/}${2#"$argv0"}
	[ "${#c}" -le "$DESCRIBE_MAX" ] || c="${c:0:$((DESCRIBE_MAX - 3))}..."
	echo "$1 ($c)"
}

# ---------------------------------------------------------------- cleanup
# kill a tracked pid only if it still looks like ours
_lib_is_ours() {
	local pid=$1 cmd exe
	[ -e "/proc/$pid" ] || return 1
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
	case "$cmd" in *"$T"*) return 0 ;; esac
	[ "$exe" = "$FERRY" ] && return 0
	return 1
}

# processes whose command line mentions the test dir
_lib_ours_by_cmdline() {
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		case "$cmd" in *"$T"*) echo "$p" ;; esac
	done
}

lib_cleanup() {
	local rc=$? i p leftovers=""
	trap - EXIT INT TERM
	for ((i = ${#LIB_CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${LIB_CLEANUP_CMDS[$i]}" >/dev/null 2>&1
	done
	local killed=()
	for p in "${LIB_PIDS[@]}" $(_lib_ours_by_cmdline); do
		if _lib_is_ours "$p" && pid_alive "$p"; then
			leftovers="$leftovers $p($(pid_state "$p"),$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-60))"
			kill -KILL "$p" 2>/dev/null
			killed+=("$p")
		fi
	done
	for p in "${killed[@]}"; do
		wait_gone "$p" 5 >/dev/null 2>&1
	done
	if [ -n "$leftovers" ] && [ "$rc" = 0 ]; then
		echo "FAIL: processes left behind:$leftovers"
		rc=1
	elif [ -n "$leftovers" ]; then
		echo "cleanup killed:$leftovers"
	fi
	if [ "$LIB_OWN_TMP" = 1 ]; then
		if [ "$rc" = 0 ] && [ "${FERRY_KEEP:-0}" != 1 ]; then
			rm -rf "$T"
		else
			echo "test dir kept: $T"
		fi
	fi
	exit "$rc"
}
trap lib_cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM
