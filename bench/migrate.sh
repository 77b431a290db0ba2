# make bench-migrate: live migration between the two test hosts (veth, tc tbf
# for a shaped link), each mode (stop-and-copy, pre-copy, post-copy, hybrid). A dirtier workload (tests/workloads) of
# SIZE MiB rewrites RATE random pages per second while `ferry send` moves it
# from host A to host B over TLS; the workload measures the longest gap
# between its own loop ticks on CLOCK_REALTIME (the pause the program saw)
# and verifies every page in B. Prints and saves a table: downtime (ferry:
# frozen in A until running in B), the app-visible pause, total time, bytes
# on the wire / memory size, total time / (bytes / link rate), rounds and the
# rule that ended them. Environment: BENCH_SIZES (MiB, default "256 1024"),
# BENCH_LINKS (default "unshaped 1gbit"), BENCH_RATES (pages/s, default
# "0 2000 5000 20000 100000"), BENCH_MODES (default "stop-and-copy precopy postcopy hybrid"),
# BENCH_PATTERN (random, seq or hot; default random), BENCH_REPS (default 1);
# a mode postcopy-nourgent, postcopy-noreadahead or postcopy-nopush (hybrid-...
# too) runs post-copy without that part (--no-urgent-channel, --no-read-ahead,
# --no-push), and a second table compares the post-copy rows;
# BENCH_FROM=bench/results/migrate-STAMP.jsonl redraws a saved run's table.
# After the table: what dirty tracking costs the program (bench/dirtycost.c)
# and the CPU each stage of a stop-and-copy takes alone (bench/pausefloor.c).
# Plots: the pause of each row (PNG, with gnuplot), and post-copy's
# throughput and faults over time, a line per post-copy or hybrid run
# (bench/postcopy_plot.py: SVG).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/hosts.sh"
. "$ROOT/tests/integration/migrate_lib.sh"
require_hosts
require_ferry
require_cmd openssl tc
SIZES=${BENCH_SIZES:-"256 1024"}
LINKS=${BENCH_LINKS:-"unshaped 1gbit"}
RATES=${BENCH_RATES:-"0 2000 5000 20000 100000"}
MODES=${BENCH_MODES:-"stop-and-copy precopy postcopy hybrid"}
PATTERN=${BENCH_PATTERN:-random}
REPS=${BENCH_REPS:-1}
OUT=$HERE/results
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)
json=$OUT/migrate-$stamp.jsonl
table=$OUT/migrate-$stamp.txt
if [ -n "${BENCH_FROM:-}" ]; then # only the table and plot of a saved run
	json=$(readlink -f "$BENCH_FROM") stamp=$(basename "$BENCH_FROM" .jsonl) stamp=${stamp#migrate-}
	table=$OUT/migrate-$stamp.txt LINKS=""
else
	: >"$json"
	wl_path dirtier >/dev/null || fail "build the dirtier workload (make)"
	migrate_setup
	RECV_STATS=$T/recv.jsonl
	receiver_start --key-file "$KEY" --timeout 120 --stats-json "$RECV_STATS"
fi

# postcopy-nourgent -> --no-urgent-channel, and so on
part_flags() {
	case "$1" in
	*-nourgent) echo --no-urgent-channel ;;
	*-noreadahead) echo --no-read-ahead ;;
	*-nopush) echo --no-push ;;
	esac
}

link_bps() { case "$1" in unshaped) echo 0 ;; *gbit) echo $((${1%gbit} * 1000000000)) ;; *mbit) echo $((${1%mbit} * 1000000)) ;; esac; }

for link in $LINKS; do
	if [ "$link" != unshaped ]; then
		# burst: at least rate / HZ (250) bytes, with room to spare
		host_tc A "$link" 4mb 100ms || fail "tc $link"
	else
		host_exec A tc qdisc del dev "${HOST_IF[A]}" root 2>/dev/null
	fi
	for size in $SIZES; do
		for rate in $RATES; do
			for mode in $MODES; do
				for rep in $(seq "$REPS"); do
					wl_start_in_a dirtier "$size" "$rate" "$PATTERN"
					nspid=$WL_NSPID ctl=$WL_CTL
					sleep 1
					recv_before=$(cat "$RECV_STATS" 2>/dev/null | wc -l)
					ferry_send "$nspid" --key-file "$KEY" --timeout 120 --mode "${mode%%-no*}" $(part_flags "$mode") --quiet
					[ "$SEND_RC" = 0 ] || fail "send failed: $(cat "$SEND_ERR")"
					touch "$ctl/stop"
					wait_until 120 ns_gone B "$nspid" || fail "dirtier did not finish in B"
					ok=$(grep -E '^(OK|FAIL)' "$ctl/log")
					case "$ok" in OK*) ;; *) fail "dirtier in B: $ok" ;; esac
					gap=${ok#*max_gap_ms=}
					gap=${gap%% *}
					_recv_wrote() { [ "$(wc -l <"$RECV_STATS")" -gt "$recv_before" ]; }
					wait_until 10 _recv_wrote || fail "the receiver wrote no stats"
					echo "{\"mode\":\"$mode\",\"size_mib\":$size,\"link\":\"$link\",\"link_bps\":$(link_bps "$link"),\"rate\":$rate,\"rep\":$rep,\"app_max_gap_ms\":$gap,\"send\":$(cat "$SEND_STATS"),\"recv\":$(tail -n 1 "$RECV_STATS")}" >>"$json"
					log "$link $size MiB $rate pages/s $mode: downtime $(json_num "$SEND_STATS" downtime_ms) ms, app gap $gap ms, rule $(json_str "$SEND_STATS" rule)"
				done
			done
		done
	done
done

# Rows: one per (link, size, rate, mode), medians over the reps.
summarize() {
	awk -v reps="$REPS" '
	function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
	# the last "key":value of the line: the totals come after the rounds
	function num(k,   rest, v, found) { rest = $0; found = 0
		while (match(rest, "\"" k "\":[0-9.]+")) { v = substr(rest, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; found = 1; rest = substr(rest, RSTART + RLENGTH) }
		return found ? v : 0 }
	function str(k) { if (match($0, "\"" k "\":\"[^\"]*\"")) return substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5); return "-" }
	{
		sub(/,"recv":.*$/, "") # what the source measured
		gsub(/"series":\{[^]]*\]\}/, "") # post-copy over time: its "bytes" are per interval
		key = str("link") SUBSEP num("size_mib") SUBSEP num("rate") SUBSEP str("mode")
		if (!(key in n)) order[++keys] = key
		i = ++n[key]
		d[key, i] = num("downtime_ms"); g[key, i] = num("app_max_gap_ms"); t[key, i] = num("total_ms")
		wire = num("wire_bytes") + num("bytes") # the pages of post-copy cross after the stream (its "bytes")
		b[key, i] = wire / (num("size_mib") * 1048576)
		bps = num("link_bps"); x[key, i] = bps > 0 ? num("total_ms") / 1000 / (wire * 8 / bps) : 0
		r[key] = gsub(/"round":/, "&"); if (r[key] == 0) r[key] = 1
		rule[key] = str("mode") == "precopy" || str("mode") == "hybrid" ? str("rule") : "-"
	}
	END {
		for (k = 1; k <= keys; k++) {
			key = order[k]; split(key, f, SUBSEP); m = n[key]
			for (i = 1; i <= m; i++) { dd[i] = d[key, i]; gg[i] = g[key, i]; tt[i] = t[key, i]; bb[i] = b[key, i]; xx[i] = x[key, i] }
			printf "%-9s %5sM %7s %-14s %10.1f %10.1f %10.1f %8.2f %8s %6d  %s\n", f[1], f[2], f[3], f[4], med(dd, m), med(gg, m), med(tt, m), med(bb, m), (xx[1] > 0 ? sprintf("%.2f", med(xx, m)) : "-"), r[key], rule[key]
		}
	}' "$json"
}

# The post-copy part of the post-copy and hybrid rows (medians over the reps).
postcopy_rows() {
	grep '"recv":{.*"postcopy":{' "$json" | awk '
	function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return a[int((n + 1) / 2)] }
	function num(k,   rest, v, found) { rest = $0; found = 0
		while (match(rest, "\"" k "\":[0-9.]+")) { v = substr(rest, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; found = 1; rest = substr(rest, RSTART + RLENGTH) }
		return found ? v : 0 }
	function str(k) { if (match($0, "\"" k "\":\"[^\"]*\"")) return substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5); return "-" }
	{
		key = str("link") SUBSEP num("size_mib") SUBSEP num("rate") SUBSEP str("mode")
		if (!(key in n)) order[++keys] = key
		i = ++n[key]
		$0 = substr($0, index($0, "\"recv\":")) # the destination saw the faults
		gsub(/"series":\{[^]]*\]\}/, "") # its totals, not the last interval of the series
		$0 = substr($0, index($0, "\"postcopy\":{"))
		c[key, i] = num("complete_ms"); tp[key, i] = num("complete_ms") > 0 ? num("bytes") / 1e6 / (num("complete_ms") / 1e3) : 0
		fl[key, i] = num("faults"); u[key, i] = num("urgent_ms"); p5[key, i] = num("p50"); p9[key, i] = num("p99")
	}
	END {
		for (k = 1; k <= keys; k++) {
			key = order[k]; split(key, f, SUBSEP); m = n[key]
			for (i = 1; i <= m; i++) { cc[i] = c[key, i]; tt[i] = tp[key, i]; ff[i] = fl[key, i]; uu[i] = u[key, i]; q5[i] = p5[key, i]; q9[i] = p9[key, i] }
			printf "%-9s %5sM %7s %-22s %10.1f %9.1f %8d %8.2f %8.2f %9.1f\n", f[1], f[2], f[3], f[4], med(cc, m), med(tt, m), med(ff, m), med(q5, m), med(q9, m), med(uu, m)
		}
	}'
}

{
	echo "ferry migration bench $stamp — $(uname -r), $(nproc) cores, hosts A and B on one VM (veth), TLS,"
	echo "dirtier workload ($PATTERN pattern), $REPS run(s) per row (median)"
	echo
	printf '%-9s %6s %7s %-14s %10s %10s %10s %8s %8s %6s  %s\n' link size pages/s mode downtime_ms app_pause total_ms \
		bytes/mem 't/(B/link)' rounds rule
	summarize
	echo
	echo "downtime = frozen in A until running in B (ferry's stats); app_pause = the longest gap the program"
	echo "itself saw (CLOCK_REALTIME), which also counts the tracker's and the freeze's stops;"
	echo "bytes/mem = bytes on the wire / memory size; t/(B/link) = total time / (bytes on the wire / link rate)."
	echo "Targets (issue 6): stop-and-copy 256 MiB unshaped <= 130 ms; pre-copy of 1 GiB at 1 Gbit/s with"
	echo "5k dirty pages/s: app pause <= 50 ms and total <= 1.1 x bytes sent / link rate."
	echo
	echo "Post-copy rows: what each part buys (the pages that follow the start)"
	printf '%-9s %6s %7s %-22s %10s %9s %8s %8s %8s %9s\n' link size pages/s mode complete_ms MB/s faults p50_ms p99_ms urgent_ms
	postcopy_rows
	echo "MB/s = post-copy page bytes / time until every page was in place (complete_ms); faults, p50/p99:"
	echo "the destination's faults on missing pages and the time until their page was in place;"
	echo "urgent_ms: time to bring up the second connection for requests (0: not used)."
	echo
	echo "What dirty tracking costs the program (worst case: every page rewritten between two collects):"
	for round in 100 1000; do
		"$ROOT/build/bench/dirtycost" 256 3 "$round" | sed 's/^/  /'
	done
	echo
	echo "The least a stop-and-copy of 256 MiB costs here, its stages timed alone (bench/pausefloor.c):"
	"$ROOT/build/bench/pausefloor" 256 | sed 's/^/  /'
} | tee "$table"

# A plot of the medians, when gnuplot is there (Debian: gnuplot-nox).
png=$OUT/migrate-$stamp.png
if command -v gnuplot >/dev/null 2>&1; then
	dat=$T/plot.dat
	summarize | awk '{ k = $1 " " $2 " " $3; if ($4 == "stop-and-copy") sc[k] = $6; else if ($4 == "precopy") pc[k] = $6; else if ($4 == "postcopy") po[k] = $6; else hy[k] = $6
		if (!(k in seen)) { seen[k] = 1; o[++n] = k } }
		END { for (i = 1; i <= n; i++) { split(o[i], f, " "); printf "\"%s %s\\n%s p/s\" %s %s %s %s\n", f[1], f[2], f[3], (o[i] in sc) ? sc[o[i]] : "NaN", (o[i] in pc) ? pc[o[i]] : "NaN", (o[i] in po) ? po[o[i]] : "NaN", (o[i] in hy) ? hy[o[i]] : "NaN" } }' >"$dat"
	gnuplot <<-GP
		set terminal pngcairo size 1400,600 noenhanced
		set bmargin 4
		set output "$png"
		set title "ferry live migration: the pause the program saw ($stamp)"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set logscale y
		set ylabel "ms (log scale)"
		set key top left
		set grid ytics
		set xtics rotate by -45 font ",8"
		plot "$dat" using 2:xtic(1) title "stop-and-copy", "" using 3 title "pre-copy", "" using 4 title "post-copy", "" using 5 title "hybrid"
	GP
	[ -s "$png" ] && echo "plot: $png"
fi
# post-copy's throughput over time, from the series in the stats of each
# post-copy (and hybrid) run: plain SVG, no plotting package needed
svg=$OUT/migrate-$stamp-postcopy.svg
if python3 "$HERE/postcopy_plot.py" "$json" "$svg" "ferry post-copy: throughput over time ($stamp)"; then
	echo "plot: $svg"
fi
echo "saved: $table, $json"
