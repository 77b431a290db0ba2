#!/bin/bash
# A real interpreter's event loop: Debian's python3 running an asyncio
# program (epoll, the loop's self-pipe socketpair that signals wake, a
# socketpair of its own fed by a 10 ms timer task that counts, a TCP server
# on 127.0.0.1, a dict of 100,000 entries), moved five times (real_lib.sh:
# dumped and restored in host A, then sent to B and back with pre-copy,
# stop-and-copy, post-copy and hybrid).
# Before each move SIGUSR1 makes it print its counter and state checksum;
# after it a new client, connected only then, gets the counter (it went on
# from where it was, no reset) and the same checksum, changes the state and
# reads it back; the counter still runs. Every tick the timer sends through
# the socketpair must arrive once and in order.
. "$(dirname "$0")/real_lib.sh"
PY=/usr/bin/python3 # Debian's, not another one on PATH
[ -x "$PY" ] || skip "needs Debian's python3 ($PY)"
real_setup

cat >"$SH/loop.py" <<'PY'
import asyncio, hashlib, os, random, signal, socket, sys

state = {}
count = 0

def checksum():
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(f"{k}={state[k]}\n".encode())
    return h.hexdigest()

def report(tag):
    print(f"{tag} count={count} keys={len(state)} sum={checksum()}", flush=True)

async def ticker(out):
    global count
    while True:
        await asyncio.sleep(0.01)
        count += 1
        out.send(count.to_bytes(8, "little"))

async def serve(reader, writer):
    while line := await reader.readline():
        cmd = line.decode().split()
        if cmd == ["state"]:
            reply = f"count={count} keys={len(state)} sum={checksum()}"
        elif len(cmd) == 3 and cmd[0] == "set":
            state[cmd[1]] = cmd[2]
            reply = "ok"
        elif len(cmd) == 2 and cmd[0] == "get":
            reply = state.get(cmd[1], "-")
        else:
            reply = "?"
        writer.write((reply + "\n").encode())
        await writer.drain()
    writer.close()

async def main(port, nkeys):
    rnd = random.Random(8)
    for i in range(nkeys):
        state[f"k{i}"] = f"{rnd.getrandbits(64):x}"
    loop = asyncio.get_running_loop()
    inbox, out = socket.socketpair()
    inbox.setblocking(False)
    out.setblocking(False)
    last = 0
    def receive():
        nonlocal last
        data = inbox.recv(65536)
        for off in range(0, len(data) - 7, 8):
            tick = int.from_bytes(data[off:off + 8], "little")
            if tick != last + 1:
                print(f"FAIL tick {tick} after {last}", flush=True)
            last = tick
    loop.add_reader(inbox, receive)
    loop.add_signal_handler(signal.SIGUSR1, report, "report")
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    ticks = asyncio.create_task(ticker(out))
    print(f"ready pid={os.getpid()}", flush=True)
    await stop.wait()
    ticks.cancel()
    server.close()
    report(f"final received={last}")

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
PY
cat >"$SH/client.py" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    f = s.makefile("rw")
    for cmd in sys.argv[2:]:
        f.write(cmd + "\n")
        f.flush()
        print(f.readline().strip())
PY

port=$((20000 + RANDOM % 20000))
real_start_in_a loop "$PY" "$SH/loop.py" "$port" 100000
OUT=$SH/loop.out
wait_until 30 grep -q "^ready" "$OUT" || fail "the program did not start: $(cat "$OUT" "$SH/loop.err")"
ask() { host_exec "$REAL_HOST" "$PY" "$SH/client.py" "$port" "$@"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# a counter well above what a restarted program would reach between a move and the question
_counted() { [ "$(field count "$(ask state)")" -ge 100 ]; }
wait_until 20 _counted || fail "the counter does not run: $(ask state)"
sum='' step_no=0
for step in "${REAL_STEPS[@]}"; do
	step_no=$((step_no + 1))
	n=$(grep -c "^report" "$OUT")
	host_exec "$REAL_HOST" kill -USR1 "$REAL_NSPID"
	_reported() { [ "$(grep -c "^report" "$OUT")" -gt "$n" ]; }
	wait_until 10 _reported || fail "no report on SIGUSR1 before '$step'"
	line=$(grep "^report" "$OUT" | tail -n1)
	before=$(field count "$line")
	[ -z "$sum" ] || [ "$(field sum "$line")" = "$sum" ] || fail "state changed on its own before '$step': $line, expected sum=$sum"
	sum=$(field sum "$line")
	log "$step: before the move $line"
	real_move "$step"
	got=$(ask state "set moved$step_no $step" "get moved$step_no" state) || fail "no answer in $REAL_HOST after '$step'"
	mapfile -t r <<<"$got"
	log "$step: after the move count=$(field count "${r[0]}"), state ${r[0]##* }"
	after=$(field count "${r[0]}")
	[ "$after" -ge "$before" ] || fail "the counter went back after '$step': $after, $before before the move"
	[ "$(field sum "${r[0]}")" = "$sum" ] || fail "state differs after '$step': ${r[0]}, expected sum=$sum"
	[ "$(field keys "${r[0]}")" = $((100000 + step_no - 1)) ] || fail "key count after '$step': ${r[0]}"
	[ "${r[1]}" = ok ] && [ "${r[2]}" = "$step" ] || fail "set/get after '$step' answered '${r[1]}' '${r[2]}'"
	[ "$(field sum "${r[3]}")" != "$sum" ] || fail "a set did not change the state"
	sum=$(field sum "${r[3]}")
	_counting() { [ "$(field count "$(ask state)")" -ge $((after + 20)) ]; }
	wait_until 10 _counting || fail "the counter stopped after '$step' (at $(ask state))"
done
host_exec "$REAL_HOST" kill -TERM "$REAL_NSPID"
real_wait_exit 10
! grep -q FAIL "$OUT" || fail "$(grep FAIL "$OUT" | head -n3)"
[ ! -s "$SH/loop.err" ] || fail "python wrote to stderr: $(cat "$SH/loop.err")"
final=$(grep "^final" "$OUT") || fail "no final report: $(cat "$OUT")"
[ "$(field sum "$final")" = "$sum" ] || fail "final state $final, expected sum=$sum"
[ "$(field count "$final")" = "$(field received "$final")" ] || fail "ticks lost in the socketpair: $final"
log "pass: $final"
