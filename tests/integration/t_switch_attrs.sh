# t_switch_attrs: a migration reads the mappings' mlock/madvise attributes
# (smaps, which walks every page table) before it freezes the process, and
# proves them once frozen; a change the process makes between that read and
# the freeze (ferry held at the stall point "attrs-read" meanwhile) is never
# lost, in post-copy and pre-copy:
#  - layout: madvise on half a mapping splits it (its maps lines change):
#    read again frozen, the migration goes on, and in B both halves have
#    the flags they had in A (the memattrs workload compares VmFlags);
#  - attributes only: MADV_DONTFORK on a whole mapping changes no maps
#    line: the check finds it before GO, the migration stops with one
#    clear line, the process runs on in A with its memory and flags; sent
#    again, it moves and has the flag in B.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_ferry
migrate_setup
receiver_start --key-file "$KEY"

# send_changing MODE NSPID CTL WHAT: ferry send held at attrs-read while the
# workload makes the change WHAT, then let go; SEND_RC and SEND_ERR as ferry_send
send_changing() {
	local mode=$1 nspid=$2 ctl=$3 what=$4 sp
	LIB_SEQ=$((LIB_SEQ + 1))
	SEND_ERR=$T/send.$LIB_SEQ.err
	host_exec A env FERRY_STALL_AT=attrs-read timeout -k 5 120 "$FERRY" send --pid "$nspid" \
		--to "10.77.0.2:$PORT" --key-file "$KEY" --mode "$mode" </dev/null >/dev/null 2>"$SEND_ERR" &
	sp=$!
	_stalled() { grep -q "stalled at attrs-read" "$SEND_ERR"; }
	wait_until 30 _stalled || fail "$what: send never stalled at attrs-read: $(cat "$SEND_ERR")"
	echo "$what" >"$ctl/change.tmp" && mv "$ctl/change.tmp" "$ctl/change" # whole when seen
	wait_until 10 test -e "$ctl/changed" || fail "$what: the workload did not make the change"
	host_pkill A -USR1 "^$FERRY send --pid $nspid --to" || fail "$what: no ferry send to let go"
	wait "$sp"
	SEND_RC=$?
	log "$what ($mode): send -> rc $SEND_RC: $(head -c 300 "$SEND_ERR")"
}

for mode in postcopy precopy; do
	# the layout changed: read again while frozen, moved exactly
	wl_start_in_a memattrs no-pdeathsig
	pid=$WL_NSPID ctl=$WL_CTL
	send_changing "$mode" "$pid" "$ctl" layout
	[ "$SEND_RC" = 0 ] || fail "layout ($mode): send failed: $(cat "$SEND_ERR")"
	in_b_running "$pid" || fail "layout ($mode): pid $pid does not run in B"
	finish_in B memattrs "$pid" "$ctl"
	case "$OK_LINE" in *"flags9=rd wr"*" half=rd wr"*" wf"*) ;; *) fail "layout ($mode): $OK_LINE" ;; esac
	log "layout ($mode): $OK_LINE"

	# only the attributes changed: refused before GO, then moved
	wl_start_in_a memattrs no-pdeathsig
	pid=$WL_NSPID ctl=$WL_CTL
	send_changing "$mode" "$pid" "$ctl" attrs
	[ "$SEND_RC" != 0 ] || fail "attrs ($mode): the migration went on with the attributes read before the change"
	expect="^ferry: send: pid $pid changed the attributes of its mappings \(mlock or madvise\) as it was frozen; pid $pid was resumed here untouched$"
	grep -Eq "$expect" "$SEND_ERR" || fail "attrs ($mode): send said: $(cat "$SEND_ERR")"
	[ "$(grep -c . "$SEND_ERR")" = 2 ] || fail "attrs ($mode): more than the stall line and one error: $(cat "$SEND_ERR")"
	wait_until 5 in_a_running "$pid" || fail "attrs ($mode): pid $pid does not run in A after the refusal"
	wait_until 15 ns_gone B "$pid" || fail "attrs ($mode): B kept its copy although GO never came"
	ferry_send "$pid" --key-file "$KEY" --mode "$mode"
	[ "$SEND_RC" = 0 ] || fail "attrs ($mode): sent again: $(cat "$SEND_ERR")"
	in_b_running "$pid" || fail "attrs ($mode): pid $pid does not run in B"
	finish_in B memattrs "$pid" "$ctl"
	case "$OK_LINE" in *"flags9=rd wr"*" dc"*) ;; *) fail "attrs ($mode): $OK_LINE" ;; esac
	log "attrs ($mode): $OK_LINE"
done
log "pass"
