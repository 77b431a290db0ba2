#!/bin/bash
# ferry ui's page in headless Chromium (WebDriver, ui_browser.py), all in
# test host A with host B's `ferry receive` as peer "b": the page loads,
# the search box finds a running dirtier in the tree, its details say ferry
# can move it, it is migrated from the page (pre-copy, then one dirtier
# each with stop-and-copy and post-copy), the live view ends "done" and the DOM (measured pause,
# rounds, bytes chart, post-copy's live numbers and charts, history row,
# downtime chart bars) matches the API;
# each dirtier runs on in B, and the pause it measured itself is not
# shorter than the page's (within 10 % + 10 ms; Chromium shares the 2 cores,
# so it may see more: t_ui_api checks both bounds). Starting from the page (the click's request answered
# + ferry ui's own part until send_process() runs) is measured: 6-15 ms
# here; the test's bound, 50 ms, leaves room for a loaded machine. The
# downtime chart's screenshot goes to tests/output/ui/ (FERRY_TEST_OUTPUT).
# Then, with 2,000 more processes in A, the page still loads, searches and
# opens a process within a responsive budget (ui_browser.py crowd).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ui_lib.sh"
ui_setup chromium chromedriver
OUT=${FERRY_TEST_OUTPUT:-$ROOT/tests/output}/ui
mkdir -p "$OUT" || fail "cannot make $OUT"
UIPORT=7080 DRIVER_PORT=9515
DRIVER=http://127.0.0.1:$DRIVER_PORT

mkdir -p "$T/home"
host_exec A env HOME="$T/home" chromedriver --port=$DRIVER_PORT </dev/null >"$T/chromedriver.log" 2>&1 &
track_pid $!
on_cleanup "host_pkill A -KILL chromium; host_pkill A -KILL chromedriver"
_driver_up() { host_exec A curl -sf "$DRIVER/status" 2>/dev/null | grep -q '"ready": *true'; }
wait_until 20 _driver_up || fail "chromedriver did not start: $(tail -5 "$T/chromedriver.log")"
ui_start $UIPORT --peer "b=10.77.0.2:$PORT,key-file=$KEY"

browse() { # ARGS..: ui_browser.py inside A; its JSON line in BROWSED
	BROWSED=$(host_exec A env HOME="$T/home" timeout 240 python3 "$ROOT/tests/integration/ui_browser.py" "$@" 2>"$T/browser.err") ||
		fail "browser ($1): $(tail -3 "$T/browser.err") $BROWSED"
	log "browser ($1): $BROWSED"
}

for mode in precopy stop-and-copy postcopy; do
	wl_start_in_a dirtier 64 3000
	pid=$WL_NSPID ctl=$WL_CTL
	sleep 0.5
	browse migrate "$DRIVER" "$UI_URL" "$pid" dirtier "$mode" "$OUT"
	wait_until 10 ns_gone A "$pid" || fail "pid $pid still in A after the page's migration"
	in_b_running "$pid" || fail "pid $pid does not run in B"
	finish_in B dirtier "$pid" "$ctl"
	gap=${OK_LINE#*max_gap_ms=}
	gap=${gap%% *}
	down=$(echo "$BROWSED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["downtime_ms"])')
	# Chromium shares the 2 cores here: the program may see more (t_ui_api checks both bounds)
	awk -v g="$gap" -v d="$down" 'BEGIN { exit !(g >= d * 0.9 - 10) }' ||
		fail "$mode: the program paused $gap ms, less than the $down ms the page says"
	# starting from the page: the click's request answered, and ferry ui's own part
	# (request in -> send_process() called), a few ms over `ferry send` itself on a
	# quiet machine (logged; a speed target, not a test: the bound only catches a
	# start that waits for something, e.g. the migration)
	echo "$BROWSED" | python3 -c 'import json,sys; j = json.load(sys.stdin); sys.exit(not j["post_ms"] + j["ui_start_ms"] < 1000)' ||
		fail "$mode: starting from the page took more than a second: $BROWSED"
	log "$mode from the page: program paused $gap ms, page and stats say $down ms"
done
[ -s "$OUT/downtime-chart.png" ] || fail "no screenshot of the downtime chart"
log "screenshot: $OUT/downtime-chart.png ($(stat -c %s "$OUT/downtime-chart.png") bytes)"

# ------------------------------------------------ 2,000 more processes
CROWD=2000
host_exec A setsid sh -c "for i in \$(seq 20); do sh -c 'for j in \$(seq $((CROWD / 20))); do sleep 600 & done; wait' & done; wait" \
	</dev/null >/dev/null 2>&1 &
track_pid $!
on_cleanup "host_pkill A -KILL 'sleep 600'"
_crowd() { [ "$(host_exec A sh -c 'ls -d /proc/[0-9]* | wc -l')" -gt "$CROWD" ]; }
wait_until 60 _crowd || fail "the $CROWD sleepers did not start"
sleeper=$(host_exec A pgrep -n -x sleep)
api_ms=$(host_exec A curl -sS -o /dev/null -w '%{time_total}' "$UI_URL/api/processes")
log "GET /api/processes with $CROWD more processes: $api_ms s"
awk -v t="$api_ms" 'BEGIN { exit !(t < 1.0) }' || fail "GET /api/processes took $api_ms s"
browse crowd "$DRIVER" "$UI_URL" "$sleeper" "$CROWD"
host_pkill A -KILL 'sleep 600'
ui_stop
log "pass"
