#!/bin/bash
# Post-copy's progress line, on a terminal (script(1) gives each side one):
# over a 200 Mbit/s link a 32 MiB dirtier's post-copy takes over a second;
# `ferry send` redraws "send post-copy (pages sent) [...] N/TOTAL pages,
# faults/s, MiB/s" about every 100 ms and ends on every page of its stats,
# `ferry receive` does the same with the pages placed at B (its stats'
# urgent + read-ahead + bulk). With --quiet, or stderr not a terminal,
# there is no such line. The bench's plot draws both sides' series. Each
# dirtier verifies its memory in B.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl script tc
migrate_setup
host_tc A 200mbit 64kb 100ms || fail "tc"

# a receiver for one migration, its stderr a terminal; RTTY: what it drew
tty_receiver() { # PORT
	RTTY=$T/recv-tty.$1.out
	host_exec B script -qfec "'$FERRY' receive --listen 10.77.0.2:$1 --key-file '$KEY' --once --stats-json '$SH/recv.$1.json'" \
		/dev/null </dev/null >"$RTTY" 2>&1 &
	track_pid $!
	_up() { grep -q "listening on" "$RTTY"; }
	wait_until 10 _up || fail "ferry receive did not start: $(cat "$RTTY")"
}

# the redraws of LABEL in FILE (script keeps the \r between them), one a line
redraws() { tr '\r' '\n' <"$1" | grep -F "$2 [" ; }

# last_pages LINES -> "DONE TOTAL" of the last redraw
last_pages() { tail -n 1 | grep -o '[0-9]*/[0-9]* pages' | tr '/' ' ' | cut -d' ' -f1,2; }

wl_start_in_a dirtier 32 2000
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
tty_receiver 7071
stats=$SH/send.tty.json
host_exec A script -qfec "'$FERRY' send --pid $pid --to 10.77.0.2:7071 --key-file '$KEY' --mode postcopy --stats-json '$stats'" \
	/dev/null </dev/null >"$T/send-tty.out" 2>&1 || fail "send failed: $(tr '\r' '\n' <"$T/send-tty.out" | tail -3)"
wait_until 10 test -s "$SH/recv.7071.json" || fail "no receiver stats"
total=$(json_num "$stats" pages_total)
[ "$total" -gt 8000 ] || fail "only $total lazy pages: $(cat "$stats")"

sent=$(redraws "$T/send-tty.out" "send post-copy (pages sent)")
n=$(echo "$sent" | grep -c .)
samples=$(grep -o '"t_ms":' "$stats" | wc -l)
log "send drew $n post-copy lines for $samples samples; last: $(echo "$sent" | tail -n 1)"
[ "$n" -ge 3 ] || fail "send drew $n post-copy lines: $(tr '\r' '\n' <"$T/send-tty.out" | tail -5)"
echo "$sent" | grep -q 'faults/s, [0-9.]* MiB/s' || fail "no rates on send's line: $(echo "$sent" | tail -n 1)"
[ "$(echo "$sent" | last_pages)" = "$total $total" ] || fail "send's last line: $(echo "$sent" | tail -n 1), $total pages"
echo "$sent" | tail -n 1 | grep -q '(100.0%)' || fail "send's last line is not 100%: $(echo "$sent" | tail -n 1)"

placed=$(redraws "$RTTY" "receive post-copy (pages in place)")
rn=$(echo "$placed" | grep -c .)
rs=$SH/recv.7071.json
want=$(($(json_num "$rs" pages_urgent) + $(json_num "$rs" pages_readahead) + $(json_num "$rs" pages_bulk)))
log "receive drew $rn post-copy lines; last: $(echo "$placed" | tail -n 1); stats: $want pages placed"
[ "$rn" -ge 3 ] || fail "receive drew $rn post-copy lines: $(tr '\r' '\n' <"$RTTY" | tail -5)"
[ "$(echo "$placed" | last_pages)" = "$want $total" ] || fail "receive's last line: $(echo "$placed" | tail -n 1), stats $want of $total"
wait_until 10 ns_gone A "$pid" || fail "pid $pid still in A"
finish_in B dirtier "$pid" "$ctl"

# the bench's plot of throughput over time (bench/postcopy_plot.py) draws
# both sides' series: a line per run and panel, a point per interval
cat "$stats" "$rs" >"$T/both.jsonl"
plotted=$(python3 "$ROOT/bench/postcopy_plot.py" "$T/both.jsonl" "$T/pc.svg") || fail "plot: $plotted"
log "$plotted"
rsamples=$(grep -o '"t_ms":' "$rs" | wc -l)
python3 - "$T/pc.svg" "$samples" "$rsamples" <<'PY' || fail "the plot: $(head -c 600 "$T/pc.svg")"
import sys, xml.etree.ElementTree as ET
runs = [p for p in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}polyline")]
n = [len(p.get("points").split()) for p in runs]
# a line per run in each of the two panels; a point per sample (the first is the start at 0)
assert n == [int(sys.argv[2]), int(sys.argv[3])] * 2, n
PY

# --quiet on a terminal, and a sender whose stderr is a file: no line
wl_start_in_a dirtier 16 2000
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
host_exec B script -qfec "'$FERRY' receive --listen 10.77.0.2:7072 --key-file '$KEY' --once --quiet" \
	/dev/null </dev/null >"$T/recv-quiet.out" 2>&1 &
track_pid $!
_up() { grep -q "listening on" "$T/recv-quiet.out"; }
wait_until 10 _up || fail "ferry receive --quiet did not start: $(cat "$T/recv-quiet.out")"
host_exec A script -qfec "'$FERRY' send --pid $pid --to 10.77.0.2:7072 --key-file '$KEY' --mode postcopy --quiet" \
	/dev/null </dev/null >"$T/send-quiet.out" 2>&1 || fail "send --quiet failed: $(cat "$T/send-quiet.out")"
grep -q "runs on 10.77.0.2:7072" "$T/send-quiet.out" || fail "send --quiet: $(cat "$T/send-quiet.out")"
! grep -q "post-copy (pages" "$T/send-quiet.out" || fail "send --quiet drew: $(tr '\r' '\n' <"$T/send-quiet.out" | head -3)"
wait_until 10 grep -q "is running here" "$T/recv-quiet.out" || fail "receive --quiet: $(cat "$T/recv-quiet.out")"
! grep -q "post-copy (pages" "$T/recv-quiet.out" || fail "receive --quiet drew: $(tr '\r' '\n' <"$T/recv-quiet.out" | head -3)"
finish_in B dirtier "$pid" "$ctl"

receiver_start --key-file "$KEY"
wl_start_in_a dirtier 16 2000
pid=$WL_NSPID ctl=$WL_CTL
sleep 0.5
ferry_send "$pid" --key-file "$KEY" --mode postcopy
[ "$SEND_RC" = 0 ] || fail "send failed: $(cat "$SEND_ERR")"
[ ! -s "$SEND_ERR" ] || fail "send wrote to a non-terminal stderr: $(head -c 300 "$SEND_ERR")"
wait_until 10 ns_gone A "$pid" || fail "pid $pid still in A"
sleep 0.5
! grep -q "post-copy (pages" "$RECV_ERR" || fail "receive drew on a non-terminal stderr"
finish_in B dirtier "$pid" "$ctl"
host_exec A tc qdisc del dev "${HOST_IF[A]}" root
log "pass"
