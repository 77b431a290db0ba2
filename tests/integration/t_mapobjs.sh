#!/bin/bash
# Mappings of memfds and deleted files survive a dump and restore as
# mappings of the same objects as the fds on them: shared and private, at
# several offsets, with the fd kept or closed, the private mappings with
# their own (COW'd) pages. The workload checks its counters through the
# other way in, the private pages, and that new writes through an fd or a
# mapping show through the others (mapobjs.c).
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

wl_dump_restore mapobjs
sleep 0.3
stop_and_check mapobjs "$WL_CTL" "$WL_PID" "$RESTORE_PID"
log "pass: restored: $OK_LINE"
