#!/bin/bash
# Damaged images must be refused: truncated, a flipped byte in the middle,
# altered header bytes 8..11 (format version).  ferry exits != 0 with a
# "ferry:" line and leaves no process with the pid; the intact image works.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

start_wl mem256 16
pid=$WL_PID
wait_ready "$WL_CTL" "$pid"
sleep 0.5
ferry_dump "$pid" "$T/img" || fail "dump failed"
img=$T/img/image.ferry
size=$(stat -c %s "$img")
[ "$size" -gt 1000 ] || fail "image suspiciously small: $size bytes"
log "image $size bytes"

# flip_byte FILE OFFSET: xor the byte with 0xff
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

cp -a "$T/img" "$T/trunc" && truncate -s $((size / 2)) "$T/trunc/image.ferry"
cp -a "$T/img" "$T/flip" && flip_byte "$T/flip/image.ferry" $((size / 2))
cp -a "$T/img" "$T/hdr" && for o in 8 9 10 11; do flip_byte "$T/hdr/image.ferry" $o; done
cmp -s "$img" "$T/flip/image.ferry" && fail "flip did not change the file"
cmp -s "$img" "$T/hdr/image.ferry" && fail "header change did not change the file"

for v in trunc flip hdr; do
	ferry_restore_sync "$T/$v"
	rc=$RESTORE_RC
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		kill -KILL "$pid" 2>/dev/null
		fail "$v: restore of a damaged image did not fail (rc $rc)"
	fi
	grep -q '^ferry:' "$RESTORE_ERR" || fail "$v: no 'ferry:' line on stderr: $(head -c 300 "$RESTORE_ERR")"
	wait_gone "$pid" 5 || {
		kill -KILL "$pid" 2>/dev/null
		fail "$v: a process with pid $pid exists after the failed restore (state $(pid_state "$pid"))"
	}
	log "$v: refused: $(grep '^ferry:' "$RESTORE_ERR" | head -n1)"
done

ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.5
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass"
