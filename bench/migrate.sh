#!/bin/bash
# make bench-migrate: live migration between the two test hosts (veth, tc tbf
# for a shaped link). A pausemeter workload of SIZE MiB keeps writing while
# `ferry send` moves it from host A to host B over TLS; the workload measures
# the longest gap between its own loop iterations on CLOCK_REALTIME (the pause
# the program saw) and verifies every page in B. Prints and saves a table:
# downtime (ferry: frozen in A until running in B), the app-visible pause,
# total time, bytes on the wire / memory size, rounds and the rule that ended
# the rounds. Environment: BENCH_SIZES (MiB, default "256 1024"), BENCH_LINKS
# (default "unshaped 1gbit"), BENCH_REPS (default 3).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/hosts.sh"
. "$ROOT/tests/integration/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl tc gcc
SIZES=${BENCH_SIZES:-"256 1024"}
LINKS=${BENCH_LINKS:-"unshaped 1gbit"}
REPS=${BENCH_REPS:-3}
OUT=$HERE/results
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)
json=$OUT/migrate-$stamp.jsonl
table=$OUT/migrate-$stamp.txt
: >"$json"
gcc -O2 -o "$T/pausemeter" "$HERE/pausemeter.c" || fail "cannot build pausemeter"

migrate_setup
receiver_start --key-file "$KEY" --timeout 120

for link in $LINKS; do
	if [ "$link" != unshaped ]; then
		# burst: at least rate / HZ (250) bytes, with room to spare
		host_tc A "$link" 4mb 100ms || fail "tc $link"
	else
		host_exec A tc qdisc del dev "${HOST_IF[A]}" root 2>/dev/null
	fi
	for size in $SIZES; do
		for rep in $(seq "$REPS"); do
			ctl=$SH/pm.$link.$size.$rep
			mkdir -p "$ctl"
			host_exec A setsid "$T/pausemeter" "$ctl" "$size" </dev/null >"$ctl/log" 2>&1 &
			track_pid $!
			wait_until 120 test -e "$ctl/ready" || fail "pausemeter $size MiB did not start"
			nspid=$(host_exec A pgrep -f "pausemeter $ctl") || fail "no pausemeter pid"
			sleep 1
			ferry_send "$nspid" --key-file "$KEY" --timeout 120
			[ "$SEND_RC" = 0 ] || fail "send failed: $(cat "$SEND_ERR")"
			touch "$ctl/stop"
			wait_until 120 ns_gone B "$nspid" || fail "pausemeter did not finish in B"
			ok=$(grep -E '^(OK|FAIL)' "$ctl/log")
			case "$ok" in OK*) ;; *) fail "pausemeter in B: $ok" ;; esac
			gap=${ok#*max_gap_ms=}
			gap=${gap%% *}
			echo "{\"mode\":\"stop-and-copy\",\"size_mib\":$size,\"link\":\"$link\",\"rep\":$rep,\"app_max_gap_ms\":$gap,\"send\":$(cat "$SEND_STATS")}" >>"$json"
			log "$link $size MiB rep $rep: downtime $(json_num "$SEND_STATS" downtime_ms) ms, app gap $gap ms"
		done
	done
done

{
	echo "ferry migration bench $stamp — $(uname -r), $(nproc) cores, hosts A and B on one VM (veth), TLS, $REPS runs (median; min..max)"
	echo
	printf '%-14s %-6s %-9s %-24s %-24s %-24s %-10s %-6s %s\n' mode size link downtime_ms app_pause_ms total_ms bytes/mem rounds rule
	for link in $LINKS; do
		for size in $SIZES; do
			awk -v s="$size" -v l="$link" '
			function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
			function cell(a, n,   lo, hi, i) { lo = a[1]; hi = a[1]; for (i = 1; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }; return sprintf("%.1f (%.1f..%.1f)", med(a, n), lo, hi) }
			function num(k,   m) { if (match($0, "\"" k "\":[0-9.]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; return 0 }
			index($0, "\"size_mib\":" s ",") && index($0, "\"link\":\"" l "\"") {
				n++; d[n] = num("downtime_ms"); g[n] = num("app_max_gap_ms"); t[n] = num("total_ms")
				b[n] = num("wire_bytes") / (s * 1048576)
			}
			END { printf "%-14s %-6s %-9s %-24s %-24s %-24s %-10.3f %-6s %s\n", "stop-and-copy", s "M", l, cell(d, n), cell(g, n), cell(t, n), med(b, n), 1, "-" }' "$json"
		done
	done
	echo
	echo "downtime = frozen in A until running in B (ferry's stats); app_pause = the longest gap the program"
	echo "itself saw (CLOCK_REALTIME), which also counts the freeze; bytes/mem = bytes on the wire / memory size."
	echo "Pre-copy rows come with pre-copy. Targets (issue 6): stop-and-copy 256 MiB unshaped <= 130 ms;"
	echo "pre-copy of 1 GiB at 1 Gbit/s, 5k dirty pages/s: app pause <= 50 ms."
	echo
	echo "What dirty tracking costs the program (worst case: every page rewritten between two collects):"
	for round in 100 1000; do
		"$ROOT/build/bench/dirtycost" 256 3 "$round" | sed 's/^/  /'
	done
} | tee "$table"

# A plot of the medians, when gnuplot is there (Debian: gnuplot-nox).
png=$OUT/migrate-$stamp.png
if command -v gnuplot >/dev/null 2>&1; then
	dat=$T/plot.dat
	for link in $LINKS; do
		for size in $SIZES; do
			awk -v s="$size" -v l="$link" '
			function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
			function num(k) { if (match($0, "\"" k "\":[0-9.]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; return 0 }
			index($0, "\"size_mib\":" s ",") && index($0, "\"link\":\"" l "\"") { n++; d[n] = num("downtime_ms"); g[n] = num("app_max_gap_ms") }
			END { printf "\"%s MiB\\n%s\" %.1f %.1f\n", s, l, med(d, n), med(g, n) }' "$json"
		done
	done >"$dat"
	gnuplot <<-GP
		set terminal pngcairo size 900,540 noenhanced
		set bmargin 4
		set output "$png"
		set title "ferry live migration, stop-and-copy ($stamp)"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set logscale y
		set ylabel "ms (log scale)"
		set key top left
		set grid ytics
		plot "$dat" using 2:xtic(1) title "downtime (ferry)", "" using 3 title "pause the program saw"
	GP
	[ -s "$png" ] && echo "plot: $png"
fi
echo "saved: $table, $json"
