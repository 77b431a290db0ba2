#!/bin/bash
# ferry ui's JSON API, served in test host A with host B's `ferry receive`
# as peer "b": the process trees with their parent/child links as /proc has
# them; the details of a known process (command line, fds, mappings) and
# ferry's verdict; a refused process shows send's own reason (and a
# migration of it fails with that reason, the process untouched); migrations
# started through the API in each mode (stop-and-copy, pre-copy, post-copy),
# whose live events and final stats match what the migrated program
# measured itself (its longest pause: both bounds for stop-and-copy, the
# lower one for the short pauses of the others);
# the history; bad requests, cross-site requests and, on a non-loopback
# bind, requests without the token are refused; SIGTERM during a migration
# ends it at once, the process untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ui_lib.sh"
ui_setup
UIPORT=7080

# ------------------------------------------------ a tree: sh with two sleeps
LIB_SEQ=$((LIB_SEQ + 1))
host_exec A setsid sh -c 'echo $$ > '"$SH"'/tree.pid; sleep 600 & sleep 600 & wait' </dev/null >/dev/null 2>&1 &
track_pid $!
wait_until 10 test -s "$SH/tree.pid" || fail "the tree did not start"
tree=$(cat "$SH/tree.pid")
_two_kids() { [ "$(host_exec A cat "/proc/$tree/task/$tree/children" | wc -w)" = 2 ]; }
wait_until 10 _two_kids || fail "the tree's sleeps did not start"
kids=$(host_exec A cat "/proc/$tree/task/$tree/children")
on_cleanup "host_pkill A -KILL 'sleep 600'"

wl_start_in_a dirtier 64 2000
d1=$WL_NSPID d1_ctl=$WL_CTL
renice -n -15 -p "$WL_GPID" >/dev/null || fail "renice" # see program_pause
ui_start $UIPORT --peer "b=10.77.0.2:$PORT,key-file=$KEY" --peer "mute=10.77.0.2:7099,insecure"

# ------------------------------------------------ the trees
ui_req GET /api/processes
[ "$HTTP_CODE" = 200 ] || fail "GET /api/processes: $HTTP_CODE $(cat "$HTTP_BODY")"
# every process of A once, each child under its parent, as /proc says
host_exec A sh -c 'for p in /proc/[0-9]*; do s=$(cat $p/stat 2>/dev/null) && echo "${p#/proc/} $(echo "${s##*) }" | cut -d" " -f2)"; done' >"$T/ps.txt"
python3 - "$HTTP_BODY" "$T/ps.txt" "$tree" "$kids" "$d1" <<'PY' || fail "the trees do not match /proc: $(head -c 2000 "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
ps = dict(map(int, l.split()) for l in open(sys.argv[2]) if l.strip())
tree, kids, d1 = int(sys.argv[3]), sorted(map(int, sys.argv[4].split())), int(sys.argv[5])
seen = {}
def walk(n, parent):
    assert n["pid"] not in seen, f"pid {n['pid']} listed twice"
    seen[n["pid"]] = n
    if parent is not None:
        assert n["ppid"] == parent, f"pid {n['pid']} under {parent} but its ppid is {n['ppid']}"
    pids = [c["pid"] for c in n["children"]]
    assert pids == sorted(pids), f"children of {n['pid']} not in pid order: {pids}"
    for c in n["children"]:
        walk(c, n["pid"])
for r in j["processes"]:
    assert r["ppid"] not in seen, f"root {r['pid']} has a listed parent"
    walk(r, None)
assert j["count"] == len(seen), f"count {j['count']} != {len(seen)} listed"
# the processes that lived through both reads, with the same parent
for pid in (tree, d1, 1):
    assert pid in seen, f"pid {pid} not listed"
    assert seen[pid]["ppid"] == ps[pid], f"pid {pid}: ppid {seen[pid]['ppid']}, /proc says {ps[pid]}"
assert [c["pid"] for c in seen[tree]["children"]] == kids, f"tree children {seen[tree]['children']} != {kids}"
assert all(seen[k]["name"] == "sleep" for k in kids)
assert seen[tree]["name"] == "sh" and seen[d1]["name"] == "dirtier"
assert seen[d1]["threads"] == 1 and seen[d1]["rss_kb"] >= 64 * 1024, seen[d1]
print(f"{len(seen)} processes, tree {tree} -> {kids}")
PY
log "trees: $(jpy "$HTTP_BODY" 'j["count"]') processes in A, links as in /proc"

# ------------------------------------------------ details of a known process
ui_req GET "/api/processes/$d1"
[ "$HTTP_CODE" = 200 ] || fail "details of $d1: $HTTP_CODE $(cat "$HTTP_BODY")"
python3 - "$HTTP_BODY" "$d1" "$d1_ctl" <<'PY' || fail "details of dirtier: $(head -c 3000 "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1])); pid = int(sys.argv[2]); ctl = sys.argv[3]
assert j["pid"] == pid and j["name"] == "dirtier" and j["user"] == "root" and j["uid"] == 0, j
assert j["cmdline"][1:] == [ctl, "64", "2000"], j["cmdline"]
assert j["exe"].endswith("/dirtier"), j["exe"]
fds = {f["fd"]: f["target"] for f in j["fds"]}
assert fds.get(1) == ctl + "/log" and fds.get(2) == ctl + "/log", fds
assert fds.get(0) == "/dev/null", fds
assert j["fd_count"] == len(j["fds"]), j["fd_count"]
maps = j["mappings"]
assert j["mapping_count"] == len(maps)
assert any(m["kb"] == 65536 and m["perms"] == "rw-p" and m["path"] == "" for m in maps), "no 64 MiB anonymous mapping"
assert any(m["path"] == j["exe"] and "x" in m["perms"] for m in maps), "no executable mapping of the binary"
assert j["movable"] is True and j["refusal"] is None, j
PY
log "details of dirtier $d1: command line, fds, mappings, movable"

# ------------------------------------------------ a refused process shows send's reason
ui_req GET "/api/processes/$tree"
[ "$(jpy "$HTTP_BODY" 'j["movable"]')" = False ] || fail "the tree shows as movable: $(cat "$HTTP_BODY")"
refusal=$(jpy "$HTTP_BODY" 'j["refusal"]')
ferry_send "$tree" --key-file "$KEY"
[ "$SEND_RC" != 0 ] || fail "ferry send moved the tree"
grep -qF "$refusal" "$SEND_ERR" || fail "the ui's reason '$refusal' is not send's: $(cat "$SEND_ERR")"
case "$refusal" in *"has 2 child processes"*"cannot dump process trees"*) ;; *) fail "reason: $refusal" ;; esac
log "refused: $refusal"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\",\"mode\":\"stop-and-copy\"}"
[ "$HTTP_CODE" = 201 ] || fail "POST for the tree: $HTTP_CODE $(cat "$HTTP_BODY")"
ui_wait_migration "$(jpy "$HTTP_BODY" 'j["id"]')" 30
[ "$(jpy "$MIG" 'j["state"]')" = failed ] || fail "the tree's migration did not fail: $(cat "$MIG")"
[ "$(jpy "$MIG" 'j["error"]')" = "$refusal" ] || fail "the failed migration says $(jpy "$MIG" 'j["error"]')"
[ "$(jpy "$MIG" 'j["where"]')" = untouched ] || fail "the tree is not untouched: $(cat "$MIG")"
in_a_running "$tree" || fail "the tree does not run in A any more"

# ------------------------------------------------ migrations through the API
# migrate NSPID MODE EXTRA_JSON: POST, follow the events to their end, check
# the final stats against the events and the process in B; sets STATS (a file)
migrate_api() {
	local pid=$1 mode=$2 extra=$3 id ev
	ui_post_json /api/migrations "{\"pid\":$pid,\"peer\":\"b\",\"mode\":\"$mode\"$extra}"
	[ "$HTTP_CODE" = 201 ] || fail "POST $mode $pid: $HTTP_CODE $(cat "$HTTP_BODY")"
	id=$(jpy "$HTTP_BODY" 'j["id"]')
	ev=$T/events.$id.txt
	# the stream ends by itself once the migration has ended
	host_exec A curl -sS -N --max-time 120 "$UI_URL/api/migrations/$id/events" >"$ev" || fail "events of $id: curl failed"
	ui_wait_migration "$id" 10
	[ "$(jpy "$MIG" 'j["state"]')" = done ] || fail "migration $id ($mode): $(cat "$MIG")"
	STATS=$T/stats.$id.json
	jpy "$MIG" 'json.dumps(j["stats"])' >"$STATS"
	python3 - "$ev" "$STATS" "$mode" "$pid" <<'PY' || fail "events of $id do not match its stats: $(head -c 3000 "$ev")"
import json, sys
evs = []
for block in open(sys.argv[1]).read().split("\n\n"):
    lines = dict(l.split(": ", 1) for l in block.split("\n") if ": " in l and not l.startswith(":"))
    if "data" in lines:
        e = json.loads(lines["data"]); assert e["type"] == lines["event"]; evs.append(e)
st = json.load(open(sys.argv[2])); mode = sys.argv[3]; pid = int(sys.argv[4])
types = [e["type"] for e in evs]
assert [e["seq"] for e in evs] == list(range(len(evs))), "events missing or out of order"
assert types[0] == "start" and types[-1] == "done" and "frozen" in types, types
assert evs[-1]["stats"] == st, "the done event's stats differ from GET's"
assert st["mode"] == mode and st["pid"] == pid and st["dest_pid"] == pid and st["command"] == "send", st
assert st["channel"] == "TLS 1.3 (pre-shared key)", st["channel"]
rounds = [e for e in evs if e["type"] == "round"]
assert [{k: v for k, v in e.items() if k not in ("seq", "type", "t_ms")} for e in rounds] == st["rounds"], "round events differ from the stats' rounds"
b = [e["bytes"] for e in evs if e["type"] == "bytes"]
assert b == sorted(b), f"bytes over time not growing: {b[:20]}"
if mode == "postcopy":  # the frozen part leaves the lazy pages for after the start on B
    assert st["pages_lazy"] > 0 and st["postcopy"]["pages_total"] == st["pages_lazy"], st
    pc = st["postcopy"]
    assert pc["pages_requested"] + pc["pages_pushed"] + pc["pages_skipped"] >= pc["pages_total"] > 0, pc
    # live post-copy: one event per step of the series, the last one marked
    # final and equal to the stats' totals (pages sent by kind, faults served)
    pe = [e for e in evs if e["type"] == "postcopy"]
    assert len(pe) == len(pc["series"]["samples"]) >= 2, (len(pe), pc["series"])
    assert [e["final"] for e in pe] == [False] * (len(pe) - 1) + [True], [e["final"] for e in pe]
    assert types.index("postcopy") > types.index("frozen") and types[-2] == "postcopy", types
    last = pe[-1]
    assert last["pages"] == last["pages_total"] == pc["pages_total"], (last, pc)
    assert (last["urgent"], last["readahead"], last["bulk"]) == (pc["pages_urgent"], pc["pages_readahead"], pc["pages_bulk"]), (last, pc)
    assert last["faults"] == pc["faults"] and last["bytes"] == pc["bytes"], (last, pc)  # faults: as the program ran
    assert [e["pages"] for e in pe] == sorted(e["pages"] for e in pe), "pages sent over time not growing"
    assert all(abs(e["postcopy_ms"] - p["t_ms"]) <= 0.051 for e, p in zip(pe, pc["series"]["samples"])), "event times differ from the series'"
else:  # no post-copy, no post-copy events
    assert "postcopy" not in types, types
if mode != "postcopy":  # the bytes of pages read and sent (zero pages among them), against the bytes of pages sent
    assert b and abs(b[-1] - st["page_bytes"]) <= 0.1 * st["page_bytes"], (b[-1], st["page_bytes"])
t = [e["t_ms"] for e in evs]
assert t == sorted(t), "event times go back"
if mode == "precopy":
    assert len(rounds) >= 1 and types.index("frozen") > types.index("round"), types
    fr = next(e for e in evs if e["type"] == "frozen")
    assert fr["rule"] == st["rule"] and abs(fr["expected_downtime_ms"] - st["expected_downtime_ms"]) < 1e-3, (fr, st)
    assert len(st["rounds"]) <= 5, st["rounds"]  # max_iterations
    assert sum(1 for e in evs if e["type"] == "round_start") == len(rounds)
print(f"{len(evs)} events, {len(rounds)} rounds, downtime {st['downtime_ms']:.1f} ms")
PY
	wait_until 10 ns_gone A "$pid" || fail "pid $pid still in A after migration $id"
	in_b_running "$pid" || fail "pid $pid does not run in B after migration $id"
	log "migration $id ($mode) of $pid: done, downtime $(jpy "$STATS" 'j["downtime_ms"]') ms, ui start $(jpy "$MIG" 'j["ui_start_ms"]') ms"
}
# the pause the program measured itself (its longest gap between ticks) is
# the downtime the stats give, give or take the scheduling around it (the
# dirtiers run at nice -15, which ferry keeps, so that other load on this
# 2-core machine makes fewer gaps of its own). The stats' downtime ends when
# A hears RUNNING, after B has resumed the process: the program's pause may
# be a little shorter.
program_pause() { # NAME NSPID CTL STATS -> GAP, DOWN (ms)
	finish_in B "$1" "$2" "$3"
	GAP=${OK_LINE#*max_gap_ms=}
	GAP=${GAP%% *}
	DOWN=$(jpy "$4" 'j["downtime_ms"]')
	log "$1: the program paused $GAP ms, the stats say $DOWN ms"
	awk -v g="$GAP" -v d="$DOWN" 'BEGIN { exit !(g >= d * 0.9 - 10) }' ||
		fail "$1: the program paused $GAP ms, less than the $DOWN ms the stats say"
}

# stop-and-copy: the pause is the whole transfer, long against any gap the
# machine makes on its own: both bounds
migrate_api "$d1" stop-and-copy ""
program_pause dirtier "$d1" "$d1_ctl" "$STATS"
awk -v g="$GAP" -v d="$DOWN" 'BEGIN { exit !(g <= d * 1.1 + 25) }' ||
	fail "dirtier: the program paused $GAP ms, more than the $DOWN ms the stats say"
s1_down=$DOWN

# pre-copy and post-copy: the pause is short (pre-copy's last round, ~10-30
# ms; post-copy's state and non-lazy pages, and then the program waits on
# its faults), and under load (other tests, ASan builds) the program's
# longest gap may be one of the machine's own, elsewhere in its life: only
# the lower bound holds there (the stats' downtime is send's own measure,
# the same as stop-and-copy's above)
migrate_dirtier() { # MODE EXTRA_JSON -> DP (its pid), DOWN
	wl_start_in_a dirtier 64 5000
	DP=$WL_NSPID
	local ctl=$WL_CTL
	renice -n -15 -p "$WL_GPID" >/dev/null || fail "renice"
	sleep 0.5
	migrate_api "$DP" "$1" "$2"
	program_pause dirtier "$DP" "$ctl" "$STATS"
}
migrate_dirtier precopy ',"downtime_limit_ms":30,"max_iterations":5'
[ "$(jpy "$STATS" 'j["downtime_limit_ms"]')" = 30.0 ] || fail "downtime limit not passed: $(cat "$STATS")"
d2=$DP s2_down=$DOWN
migrate_dirtier postcopy ""
d3=$DP s3_down=$DOWN

# ------------------------------------------------ history
ui_req GET /api/migrations
[ "$HTTP_CODE" = 200 ] || fail "GET /api/migrations: $HTTP_CODE"
python3 - "$HTTP_BODY" "$tree" "$d1" "$d2" "$d3" "$s1_down" "$s2_down" "$s3_down" <<'PY' || fail "history: $(cat "$HTTP_BODY")"
import json, sys
h = json.load(open(sys.argv[1]))["migrations"]
tree, d1, d2, d3 = map(int, sys.argv[2:6]); s1, s2, s3 = map(float, sys.argv[6:9])
assert [(m["id"], m["pid"], m["mode"], m["state"]) for m in h] == [(1, tree, "stop-and-copy", "failed"),
       (2, d1, "stop-and-copy", "done"), (3, d2, "precopy", "done"), (4, d3, "postcopy", "done")], h
assert [m["downtime_ms"] for m in h[1:]] == [s1, s2, s3] and h[2]["rounds"] >= 1, h
assert all(m["peer"] == "b" and 0 < m["ui_start_ms"] < 1000 for m in h), [m["ui_start_ms"] for m in h]  # ms: a start that waits for nothing
PY

# ------------------------------------------------ refused requests
expect() { # CODE WHAT: the last request got CODE and an error line
	[ "$HTTP_CODE" = "$1" ] || fail "$2: HTTP $HTTP_CODE, expected $1: $(cat "$HTTP_BODY")"
	local e
	e=$(jpy "$HTTP_BODY" 'j["error"]') || fail "$2: no error field: $(cat "$HTTP_BODY")"
	log "$2 -> $1: $e"
}
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\",\"mode\":\"teleport\"}"
expect 400 "mode teleport"
grep -q "precopy, stop-and-copy" "$HTTP_BODY" || fail "the modes are not listed: $(cat "$HTTP_BODY")"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"nowhere\"}"
expect 400 "unknown peer"
ui_post_json /api/migrations '{"peer":"b"}'
expect 400 "no pid"
ui_post_json /api/migrations '{"pid":"x","peer":"b"}'
expect 400 "pid not a number"
ui_post_json /api/migrations '{"pid":1,"peer":"b","max_iterations":0}'
expect 400 "max_iterations 0"
ui_post_json /api/migrations '{"pid":1,"peer":"b","colour":1}'
expect 400 "unknown field"
ui_post_json /api/migrations 'not json'
expect 400 "not JSON"
ui_post_json /api/migrations '{"pid":4000000,"peer":"b"}'
expect 404 "no such pid"
ui_req POST /api/migrations --data "{\"pid\":$tree,\"peer\":\"b\"}"
expect 415 "form-encoded body"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\"}" -H 'Origin: http://evil.example'
expect 403 "cross-site Origin"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\"}" -H 'Sec-Fetch-Site: cross-site'
expect 403 "cross-site fetch"
ui_req GET /api/processes -H 'Host: evil.example'
expect 403 "rebinding Host"
ui_req GET /api/processes/4000000
expect 404 "details of no process"
ui_req GET /api/migrations/99
expect 404 "no migration 99"
ui_req DELETE /api/migrations/1
expect 405 "DELETE"
ui_req GET /api/nothing
expect 404 "unknown path"
in_a_running "$tree" || fail "the tree was disturbed"

# ------------------------------------------------ stopped mid-migration
# a peer that takes the connection and never answers: the migration waits
# for its ACCEPT; SIGTERM to ferry ui ends that wait at once (not after the
# 30 s timeout), the process runs on in A untouched, ferry ui exits 0
host_exec B python3 -c 'import socket, time; s = socket.create_server(("10.77.0.2", 7099)); time.sleep(300)' \
	</dev/null >/dev/null 2>&1 &
track_pid $!
_mute_up() { host_exec B ss -ltn | grep -q '10.77.0.2:7099'; }
wait_until 10 _mute_up || fail "the mute peer did not start"
wl_start_in_a dirtier 8 1000
d4=$WL_NSPID d4_ctl=$WL_CTL
ui_post_json /api/migrations "{\"pid\":$d4,\"peer\":\"mute\",\"mode\":\"stop-and-copy\"}"
[ "$HTTP_CODE" = 201 ] || fail "POST to the mute peer: $HTTP_CODE $(cat "$HTTP_BODY")"
sleep 1
ui_req GET "/api/migrations/$(jpy "$HTTP_BODY" 'j["id"]')"
[ "$(jpy "$HTTP_BODY" 'j["state"]')" = running ] || fail "the migration to the mute peer: $(cat "$HTTP_BODY")"
t0=$(date +%s%N)
ui_stop
stop_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$stop_ms" -lt 5000 ] || fail "ferry ui took $stop_ms ms to stop with a migration waiting for its peer"
in_a_running "$d4" || fail "the dirtier does not run untouched in A after ferry ui stopped"
grep -q "stopping" "$UI_ERR" || fail "ferry ui did not say it stops: $(cat "$UI_ERR")"
finish_in A dirtier "$d4" "$d4_ctl"
log "ferry ui stopped in $stop_ms ms during a migration; the process ran on in A"

# ------------------------------------------------ a non-loopback bind needs the token
ui_start 0 --listen "10.77.0.1:$UIPORT" --peer "b=10.77.0.2:$PORT,key-file=$KEY"
[ -n "$UI_TOKEN" ] || fail "no token printed on a non-loopback bind: $(cat "$UI_ERR")"
ui_req GET /api/processes
expect 401 "no token"
ui_req GET /
[ "$HTTP_CODE" = 401 ] || fail "the page without token: $HTTP_CODE"
ui_req GET /api/processes -H "Authorization: Bearer ${UI_TOKEN}x"
expect 401 "wrong token"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\"}"
expect 401 "POST without token"
ui_req GET /api/processes -H "Authorization: Bearer $UI_TOKEN"
[ "$HTTP_CODE" = 200 ] || fail "with the token: $HTTP_CODE $(cat "$HTTP_BODY")"
ui_req GET "/?token=$UI_TOKEN" -D "$T/headers.txt"
[ "$HTTP_CODE" = 200 ] && grep -q '<title>ferry ui</title>' "$HTTP_BODY" || fail "the page with ?token=: $HTTP_CODE"
grep -qi "^Set-Cookie: ferry_token=$UI_TOKEN; Path=/; HttpOnly; SameSite=Strict" "$T/headers.txt" ||
	fail "no cookie for the page: $(cat "$T/headers.txt")"
ui_req GET /api/peers -H "Cookie: ferry_token=$UI_TOKEN"
[ "$HTTP_CODE" = 200 ] && [ "$(jpy "$HTTP_BODY" 'j["peers"][0]["name"]')" = b ] || fail "with the cookie: $HTTP_CODE"
ui_post_json /api/migrations "{\"pid\":$tree,\"peer\":\"b\"}" -H "Authorization: Bearer $UI_TOKEN" -H "Origin: http://evil.example"
expect 403 "token but cross-site"
ui_stop
# the token from a file, required on loopback too
printf 'a-token-from-a-file-0123456789\n' >"$SH/token"
ui_start $UIPORT --token-file "$SH/token"
[ -z "$UI_TOKEN" ] || fail "a token from a file was printed"
ui_req GET /api/peers
expect 401 "--token-file, no token"
ui_req GET /api/peers -H "Authorization: Bearer a-token-from-a-file-0123456789"
[ "$HTTP_CODE" = 200 ] || fail "--token-file with the token: $HTTP_CODE"
ui_stop

# ------------------------------------------------ bad options: one line, exit 1
for bad in "--peer b" "--peer b=10.77.0.2:$PORT" "--peer b=10.77.0.2:$PORT,key-file=/nonexistent" \
	"--listen nowhere" "--token-file /nonexistent" "--peer b=x:1,insecure,colour=red" "extra"; do
	# shellcheck disable=SC2086
	out=$(timeout 10 "$FERRY" ui $bad 2>&1 </dev/null)
	rc=$?
	[ "$rc" = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && [[ $out == "ferry: ui"* ]] ||
		fail "ferry ui $bad: rc $rc: $out"
done
log "pass"
