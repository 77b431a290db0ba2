#!/bin/bash
# Runs every tests/integration/t_*.sh (or those whose name matches the
# extended regex given as $1), each in its own temp dir with a timeout.
# Prints PASS/FAIL/SKIP per test and finally exactly one line
#   "N passed, N failed, N skipped"
# Exit status: non-zero if any test failed, if no test ran, or, with
# FERRY_REQUIRE_NO_SKIP=1 (CI sets it: its machine has everything the tests
# need), if any test skipped.
# Environment: FERRY (binary), FERRY_TEST_TIMEOUT (seconds, default 300),
#   FERRY_KEEP=1 (keep temp dirs of passing tests too), FERRY_REQUIRE_NO_SKIP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FERRY=${FERRY:-$ROOT/build/ferry}
[ -e "$FERRY" ] && FERRY=$(readlink -f "$FERRY")
export FERRY
TIMEOUT=${FERRY_TEST_TIMEOUT:-300}
filter=${1:-}

[ -x "$FERRY" ] || echo "warning: $FERRY missing, tests needing it will fail" >&2

# do not hand inherited descriptors (e.g. a leaked pipe) to the tests
self=$(readlink -f "$0")
for fd in $(ls /proc/$$/fd); do
	[ "$fd" -gt 2 ] || continue
	[ "$(readlink "/proc/$$/fd/$fd")" = "$self" ] && continue
	eval "exec $fd>&-" 2>/dev/null
done

pass=0
nfail=0
nskip=0
skipped=""
for t in "$HERE"/t_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then
		continue
	fi
	dir=$(mktemp -d "/tmp/ferry-it.$name.XXXXXX")
	t0=$(date +%s)
	TEST_TMP=$dir timeout -k 20 "$TIMEOUT" bash "$t" </dev/null >"$dir/test.log" 2>&1
	rc=$?
	dt=$(($(date +%s) - t0))
	# anything the test left behind (e.g. after a timeout): kill by test dir
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		case "$cmd" in *"$dir"*)
			echo "  killing leftover $p: ${cmd:0:80}" >>"$dir/test.log"
			kill -KILL "$p" 2>/dev/null
			;;
		esac
	done
	case $rc in
	0)
		echo "PASS $name (${dt}s)"
		pass=$((pass + 1))
		;;
	77)
		reason=$(grep '^SKIP: ' "$dir/test.log" | tail -n1)
		echo "SKIP $name: ${reason#SKIP: }"
		nskip=$((nskip + 1))
		skipped="$skipped $name"
		;;
	*)
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "FAIL $name (timeout after ${TIMEOUT}s, rc $rc)"
		else
			echo "FAIL $name (rc $rc, ${dt}s)"
		fi
		tail -n 25 "$dir/test.log" | sed 's/^/    | /'
		echo "    (log: $dir/test.log)"
		nfail=$((nfail + 1))
		;;
	esac
	if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then
		[ "${FERRY_KEEP:-0}" = 1 ] || rm -rf "$dir"
	else
		# keep the log and small files, drop big data
		find "$dir" -type f -size +20M -delete 2>/dev/null
	fi
done
status=0
[ "$nfail" = 0 ] || status=1
if [ $((pass + nfail + nskip)) = 0 ]; then
	echo "no test ran${filter:+ (filter '$filter')}"
	status=1
fi
if [ "$nskip" != 0 ] && [ "${FERRY_REQUIRE_NO_SKIP:-0}" = 1 ]; then
	echo "skipped although FERRY_REQUIRE_NO_SKIP=1:$skipped"
	status=1
fi
echo "$pass passed, $nfail failed, $nskip skipped"
exit "$status"
