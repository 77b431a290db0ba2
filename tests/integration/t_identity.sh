#!/bin/bash
# identity: credentials, umask, cwd, rlimits, nice, comm, prctl state,
# sigaltstack, pid/sid/pgrp, unusual memory kinds (shared anon, PROT_READ,
# PROT_NONE, COW'd private file mapping, shared file mapping, heap) and fd
# kinds (O_PATH, O_DIRECTORY, /dev/null, /dev/zero, O_CLOEXEC file + dup with
# a shared offset, O_NONBLOCK) survive dump/restore exactly.  Run twice: as
# root, and dropped to nobody/nogroup with groups {65534,100} (ferry must
# restore a process of another user; root here lacks CAP_SYS_RESOURCE).
# The workload compares from inside; this script also compares /proc/PID from
# outside (status ids/groups/NoNewPrivs/THP_enabled, Max open files, nice,
# comm, and the generic proc_snapshot).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry
getent passwd 65534 >/dev/null || skip "no uid 65534"

# the dropped user must reach its control dir and work dir below $T
chmod 755 "$T"

# outside_view PID: what /proc shows of the identity
outside_view() {
	local pid=$1 s
	grep -E '^(Uid|Gid|Groups|NoNewPrivs|THP_enabled|Umask):' "/proc/$pid/status"
	grep '^Max open files' "/proc/$pid/limits"
	grep '^Max core file size' "/proc/$pid/limits"
	s=$(cat "/proc/$pid/stat")
	s=${s##*) }
	# fields after "comm)": 3=state ... 18=priority 19=nice
	echo "nice $(echo "$s" | awk '{print $17}')"
	echo "comm $(cat "/proc/$pid/comm")"
	echo "cwd $(readlink "/proc/$pid/cwd")"
	echo "sid/pgrp $(echo "$s" | awk '{print $4, $3}')"
}

run_one() {
	local mode=$1 w=$T/work.$1
	mkdir -p "$w"
	chmod 755 "$w"
	start_wl identity "$mode" "$w"
	local pid=$WL_PID
	wait_ready "$WL_CTL" "$pid"
	sleep 0.3
	outside_view "$pid" >"$T/outside.$mode.before"
	proc_snapshot "$pid" "$T/snap.$mode.before"
	# sanity of what the workload set up
	case $mode in
	drop)
		grep -q "^Uid:[[:space:]]*65534[[:space:]]65534[[:space:]]65534[[:space:]]65534$" "$T/outside.$mode.before" ||
			fail "workload did not drop to uid 65534: $(grep ^Uid "$T/outside.$mode.before")"
		grep -q "^Groups:[[:space:]]*100 65534" "$T/outside.$mode.before" ||
			fail "workload groups: $(grep ^Groups "$T/outside.$mode.before")"
		;;
	*)
		grep -q "^Uid:[[:space:]]*0[[:space:]]0[[:space:]]0[[:space:]]0$" "$T/outside.$mode.before" ||
			fail "workload not root: $(grep ^Uid "$T/outside.$mode.before")"
		;;
	esac
	grep -q "^nice 5$" "$T/outside.$mode.before" || fail "nice not 5: $(grep ^nice "$T/outside.$mode.before")"
	grep -q "^NoNewPrivs:[[:space:]]*1$" "$T/outside.$mode.before" || fail "NoNewPrivs not 1 before dump"
	grep -q "^THP_enabled:[[:space:]]*0$" "$T/outside.$mode.before" || fail "THP_enabled not 0 before dump"
	grep -q "^Max open files *777 *888 " "$T/outside.$mode.before" || fail "NOFILE limit not 777/888 before dump"
	grep -q "^comm idtest-comm$" "$T/outside.$mode.before" || fail "comm not set before dump"
	grep -q "^sid/pgrp $pid $pid$" "$T/outside.$mode.before" || fail "not a session/group leader before dump"

	ferry_dump "$pid" "$T/img.$mode" || fail "dump of identity ($mode) failed: $(cat "$DUMP_ERR")"
	[ -e "/proc/$pid" ] && fail "pid $pid still exists after dump"
	ferry_restore "$T/img.$mode"
	wait_restored "$pid" "$RESTORE_PID"
	sleep 0.5
	outside_view "$pid" >"$T/outside.$mode.after"
	if ! diff -u "$T/outside.$mode.before" "$T/outside.$mode.after" >"$T/outside.$mode.diff"; then
		sed 's/^/  /' "$T/outside.$mode.diff"
		fail "identity ($mode): /proc view differs after restore"
	fi
	log "identity ($mode): /proc view identical ($(grep -c . "$T/outside.$mode.before") lines)"
	proc_snapshot "$pid" "$T/snap.$mode.after"
	proc_compare "$T/snap.$mode.before" "$T/snap.$mode.after"
	stop_and_check identity "$WL_CTL" "$pid" "$RESTORE_PID"
	case $mode in
	drop) [[ $OK_LINE == *"uid=65534 "* ]] || fail "OK line does not say uid=65534: $OK_LINE" ;;
	*) [[ $OK_LINE == *"uid=0 "* ]] || fail "OK line does not say uid=0: $OK_LINE" ;;
	esac
}

run_one root
run_one drop
log "pass"
