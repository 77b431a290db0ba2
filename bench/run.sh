#!/bin/bash
# make bench: dump and restore time, throughput and the pause a running
# program sees, for 256 MiB and 1 GiB processes, images on tmpfs.
# Each size runs REPS times (the first touches of fresh guest memory in a VM
# are slow, so the median is the figure to compare). Prints a table and saves
# it with the raw JSON under bench/results/.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
FERRY=${FERRY:-$ROOT/build/ferry}
SIZES=${BENCH_SIZES:-"256 1024"}
REPS=${BENCH_REPS:-5}
OUT=$HERE/results
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)
W=$(mktemp -d /dev/shm/ferry-bench.XXXXXX)
trap 'pkill -KILL -f "$W/" 2>/dev/null; rm -rf "$W"' EXIT
gcc -O2 -o "$W/pausemeter" "$HERE/pausemeter.c" || exit 1
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done

json=$OUT/$stamp.jsonl
table=$OUT/$stamp.txt
: >"$json"
ms() { date +%s%N | awk '{printf "%.3f", $1 / 1e6}'; }
jget() { grep -o "\"$2\":[0-9.]*" "$1" | head -n1 | cut -d: -f2; }

for size in $SIZES; do
	ctl=$W/ctl.$size
	mkdir -p "$ctl"
	setsid "$W/pausemeter" "$ctl" "$size" </dev/null >"$ctl/log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do [ -e "$ctl/ready" ] && break; sleep 0.1; done
	sleep 0.5
	rpid=""
	for rep in $(seq "$REPS"); do
		img=$W/img.$size.$rep
		t0=$(ms)
		"$FERRY" dump --pid "$pid" --dir "$img" --stats "$W/dump.json" || { echo "dump failed"; exit 1; }
		# the dumped process is a child of this shell or of the previous
		# `ferry restore`, both reap at once: its pid is free right away
		"$FERRY" restore --dir "$img" --stats "$W/restore.json" </dev/null >/dev/null &
		rpid=$!
		for _ in $(seq 2000); do [ -s "$W/restore.json" ] && break; sleep 0.005; done
		t1=$(ms)
		pause=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
		echo "{\"size_mib\":$size,\"rep\":$rep,\"pause_outside_ms\":$pause,\"dump\":$(cat "$W/dump.json"),\"restore\":$(cat "$W/restore.json")}" >>"$json"
		rm -f "$W/restore.json" "$W/dump.json"
		rm -rf "$img"
		sleep 0.3
	done
	touch "$ctl/stop"
	wait "$rpid"
	ok=$(grep -E '^(OK|FAIL)' "$ctl/log")
	echo "$size $ok" >>"$W/inside"
done

{
	echo "ferry bench $stamp — $(uname -r), $(nproc) cores, images on tmpfs, $REPS runs per size (median; min..max)"
	echo
	printf '%-6s %-22s %-22s %-22s %-22s %-22s\n' size dump_ms dump_GB/s restore_ms restore_GB/s pause_ms
	for size in $SIZES; do
		awk -v s="$size" '
		function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
		function cell(a, n,   lo, hi, i) { lo = a[1]; hi = a[1]; for (i = 1; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }; return sprintf("%.1f (%.1f..%.1f)", med(a, n), lo, hi) }
		function cellg(a, n,   lo, hi, i) { lo = a[1]; hi = a[1]; for (i = 1; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }; return sprintf("%.2f (%.2f..%.2f)", med(a, n), lo, hi) }
		function num(k,   m) { if (match($0, "\"" k "\":[0-9.]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); return 0 }
		index($0, "\"size_mib\":" s ",") {
			n++
			d[n] = num("frozen_ms") + 0; dg[n] = num("page_gbps") + 0
			r[n] = substr($0, index($0, "\"restore\":")); rr = r[n]
			match(rr, /"total_ms":[0-9.]+/); rt[n] = substr(rr, RSTART + 11, RLENGTH - 11) + 0
			match(rr, /"page_gbps":[0-9.]+/); rg[n] = substr(rr, RSTART + 12, RLENGTH - 12) + 0
			p[n] = num("pause_outside_ms") + 0
		}
		END { printf "%-6s %-22s %-22s %-22s %-22s %-22s\n", s "M", cell(d, n), cellg(dg, n), cell(rt, n), cellg(rg, n), cell(p, n) }' "$json"
	done
	echo
	echo "dump_ms = time the process is frozen; GB/s = page bytes / page phase time;"
	echo "pause_ms = dump start until the restored process runs, timed from outside."
	echo "Largest pause the program itself saw over all runs (CLOCK_REALTIME gap):"
	sed 's/^/  /' "$W/inside"
	echo "Targets: >= 1.5 GB/s each way; pause for 256 MiB <= 130 ms (CRIU 4.2 here: 399 ms median)."
} | tee "$table"
echo "saved: $table, $json"
