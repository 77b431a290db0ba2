#!/bin/bash
# The restore's page path without userfaultfd (FERRY_RESTORE_NO_UFFD=1, as on
# a kernel or sandbox without one): pages land with process_vm_writev, the
# stats say so and why, and the memory verifies.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl mem256 64
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.3
ferry_dump "$pid" "$T/img" || fail "dump failed"
FERRY_RESTORE_NO_UFFD=1 ferry_restore "$T/img" --stats "$T/stats.json"
wait_restored "$pid" "$RESTORE_PID"
check_pages_path "$T/stats.json" process_vm_writev
why=$(json_str "$T/stats.json" pages_path_why)
[ "$why" = "userfaultfd not used on request" ] || fail "stats do not say why: '$why'"
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass: $(cat "$T/stats.json")"
