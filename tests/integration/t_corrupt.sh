#!/bin/bash
# Damaged images must be refused, each with its own reason: ferry exits != 0
# with exactly one line "ferry: restore: REASON" naming what is wrong (and
# where: the record offsets are computed here by walking the image), and
# leaves no process with the pid; the intact image then restores and works.
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

# The stream (src/state/stream.h): a 16-byte preamble (magic[8], u32 version,
# u32 flags), then records: u16 type, u16 flags, u32 len, u32 crc, payload.
PREAMBLE=16
REC_HDR=12
REC_PROCESS=2
REC_PAGES=6
REC_DONE=9
u16_at() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
u32_at() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
# put_u32 FILE OFFSET VALUE (little-endian)
put_u32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# flip_byte FILE OFFSET: xor the byte with 0xff
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
# the same with the file last, for variant below
flip_byte_at() { flip_byte "$2" "$1"; }
put_u32_at() { put_u32 "$3" "$1" "$2"; }

# walk the records: REC_OFF[i], REC_TYPE[i], REC_LEN[i]
REC_OFF=()
REC_TYPE=()
REC_LEN=()
off=$PREAMBLE
while [ "$off" -lt "$size" ]; do
	REC_OFF+=("$off")
	REC_TYPE+=("$(u16_at "$img" "$off")")
	REC_LEN+=("$(u32_at "$img" $((off + 4)))")
	off=$((off + REC_HDR + ${REC_LEN[-1]}))
done
[ "$off" = "$size" ] || fail "walking the records ended at $off, the image has $size bytes"
[ "${REC_TYPE[-1]}" = "$REC_DONE" ] || fail "last record has type ${REC_TYPE[-1]}, expected done ($REC_DONE)"
proc_i="" pages=()
for i in "${!REC_TYPE[@]}"; do
	[ "${REC_TYPE[$i]}" = "$REC_PROCESS" ] && [ -z "$proc_i" ] && proc_i=$i
	[ "${REC_TYPE[$i]}" = "$REC_PAGES" ] && pages+=("$i")
done
[ -n "$proc_i" ] || fail "no process record in the image"
[ "${#pages[@]}" -ge 2 ] || fail "fewer than 2 pages records in the image"
mid=${pages[$((${#pages[@]} / 2))]}
mid_off=${REC_OFF[$mid]}
mid_len=${REC_LEN[$mid]}
proc_off=${REC_OFF[$proc_i]}
done_off=${REC_OFF[-1]}
log "${#REC_OFF[@]} records; process at $proc_off, middle pages record at $mid_off ($mid_len bytes), done at $done_off"

# variant NAME EXPECTED-REASON (extended regex, whole line after "ferry: restore: ")
# then a command that damages $T/NAME/image.ferry
declare -A reason=()
variant() {
	local name=$1 why=$2
	shift 2
	cp -a "$T/img" "$T/$name" || fail "copy image"
	"$@" "$T/$name/image.ferry" || fail "$name: cannot damage the image"
	cmp -s "$img" "$T/$name/image.ferry" && fail "$name: image unchanged"
	reason[$name]=$why
}
variant empty 'stream is truncated: no complete header' truncate -s 10
variant magic 'not a ferry stream \(bad magic\)' flip_byte_at 0
variant version 'unsupported stream format version 4 \(this ferry reads version 3\)' put_u32_at 8 4
variant meta_crc "stream is corrupted: checksum mismatch in process record at offset $proc_off" flip_byte_at $((proc_off + REC_HDR))
variant meta_hdr "stream is corrupted: invalid record header at offset $proc_off: record length over the limit \\(type 2, flags 0, length 4294967295\\)" put_u32_at $((proc_off + 4)) 4294967295
variant page_crc "stream is corrupted: checksum mismatch in pages record at offset $mid_off" flip_byte_at $((mid_off + REC_HDR + mid_len / 2))
variant trunc_mid "stream is truncated: record at offset $mid_off is incomplete" truncate -s $((mid_off + REC_HDR + mid_len / 2))
variant no_done 'stream is truncated: it ends without an end record' truncate -s "$done_off"

for v in empty magic version meta_crc meta_hdr page_crc trunc_mid no_done; do
	ferry_restore_sync "$T/$v"
	rc=$RESTORE_RC
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		kill -KILL "$pid" 2>/dev/null
		fail "$v: restore of a damaged image did not fail (rc $rc)"
	fi
	[ "$(grep -c . "$RESTORE_ERR")" = 1 ] || fail "$v: expected one line on stderr, got: $(head -c 600 "$RESTORE_ERR")"
	grep -Eqx "ferry: restore: ${reason[$v]}" "$RESTORE_ERR" ||
		fail "$v: expected 'ferry: restore: ${reason[$v]}', got: $(cat "$RESTORE_ERR")"
	wait_gone "$pid" 5 || {
		kill -KILL "$pid" 2>/dev/null
		fail "$v: a process with pid $pid exists after the failed restore (state $(pid_state "$pid"))"
	}
	log "$v: refused: $(cat "$RESTORE_ERR")"
done

ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
sleep 0.5
stop_and_check mem256 "$WL_CTL" "$pid" "$RESTORE_PID"
log "pass"
