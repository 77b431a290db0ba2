#!/bin/bash
# The Debian package, as an operator gets it: dpkg-buildpackage builds it
# from a copy of this tree (version = the Makefile's); lintian finds nothing
# but what debian/*lintian-overrides explain; once installed, the installed
# ferry passes `ferry check`, `man -w` finds every page, the bash completion
# loads on demand, and systemd-analyze verifies ferry-receive.service. Then,
# as the operator would: a key in /etc/ferry/key, the address in
# /etc/ferry/receive.conf, and the unit's ExecStart run the way systemd runs
# it (PID 1 is not systemd here: its EnvironmentFile, UMask and LogsDirectory
# applied by tests/integration/unit_lib.sh) in test host B; a workload
# migrates to it from host A with the installed ferry and checks its memory
# there; the receiver says so on stdout (the journal) and in its stats file.
# Finally `dpkg --purge` leaves nothing: no file of the package, no
# /etc/ferry (key included), no /var/log/ferry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/migrate_lib.sh"
. "$(dirname "$0")/unit_lib.sh"
require_hosts
require_cmd dpkg-buildpackage dh lintian systemd-analyze man openssl flock
[ -r /usr/share/bash-completion/bash_completion ] || skip "bash-completion is not installed"
# this test installs and purges the package: never over an operator's ferry
# the lock is held by a child of the test, not by the test's shell: the
# workloads it starts must not inherit a locked fd (ferry carries flocks,
# and the destination could not take it again while the source holds it)
# (its name mentions $T: lib.sh's cleanup kills it as one of this test's)
( flock -w 200 9 && touch "$T/lock.held" && exec -a "t_package-lock $T" sleep 100000 ) 9>/run/lock/ferry-t_package.lock &
LOCK_PID=$!
track_pid "$LOCK_PID"
wait_until 200 test -e "$T/lock.held" || fail "another t_package holds /run/lock/ferry-t_package.lock"
if dpkg-query -W -f='${Status}' ferry 2>/dev/null | grep -q installed || [ -e /usr/bin/ferry ] || [ -e /etc/ferry ] ||
	[ -e /var/log/ferry ]; then
	skip "ferry is installed here (package, /usr/bin/ferry, /etc/ferry or /var/log/ferry): this test would replace and purge it"
fi
on_cleanup "rm -rf /etc/ferry /var/log/ferry" # none was there: whatever a failure left is this test's

# ---------------------------------------------------------------- build
version=$(sed -n 's/^VERSION := //p' "$ROOT/Makefile")
src=$T/build/ferry-$version
mkdir -p "$src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$src"
else
	tar -C "$ROOT" --exclude-vcs --exclude=./build --exclude=./build-san -cf - . | tar -xf - -C "$src"
fi || fail "cannot copy the tree"
[ "$(cd "$src" && dpkg-parsechangelog -S Version)" = "$version" ] ||
	fail "debian/changelog's version $(cd "$src" && dpkg-parsechangelog -S Version) is not the Makefile's $version"
t0=$(now)
(cd "$src" && dpkg-buildpackage -us -uc) >"$T/build.log" 2>&1 || fail "dpkg-buildpackage: $(tail -n 20 "$T/build.log")"
deb=$T/build/ferry_${version}_amd64.deb
changes=$T/build/ferry_${version}_amd64.changes
[ -s "$deb" ] && [ -s "$changes" ] || fail "no $deb / $changes: $(ls "$T/build")"
log "built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"

lintian --pedantic -I --fail-on error,warning,info,pedantic "$changes" >"$T/lintian.out" 2>&1 ||
	fail "lintian: $(grep -v 'running with root privileges' "$T/lintian.out")"
! grep -q '^[EWIP]:' "$T/lintian.out" || fail "lintian: $(cat "$T/lintian.out")"
log "lintian: no tag beyond the explained overrides"

# ---------------------------------------------------------------- install
dpkg -i "$deb" >"$T/install.log" 2>&1 || fail "dpkg -i: $(cat "$T/install.log")"
on_cleanup "dpkg --purge ferry"
dpkg -L ferry >"$T/files"
FERRY=/usr/bin/ferry
/usr/bin/ferry check >"$T/check.out" 2>&1 || fail "installed ferry check: $(cat "$T/check.out")"
[ "$(tail -n1 "$T/check.out")" = "Looks good: dump and restore work here." ] || fail "ferry check: $(cat "$T/check.out")"
for page in ferry $(/usr/bin/ferry --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/ferry-\1/p'); do
	w=$(env -u MANPATH man -w "$page" 2>&1)
	[ "$w" = "/usr/share/man/man1/$page.1.gz" ] || fail "man -w $page: $w"
done
log "installed: ferry check passes, man -w finds $(grep -c 'man1/.*\.gz$' "$T/files") pages"
c=$(bash -c '. /usr/share/bash-completion/bash_completion; _completion_loader ferry; complete -p ferry' 2>&1)
[ "$c" = "complete -F _ferry ferry" ] || fail "bash completion not loaded on demand: $c"
UNIT=/lib/systemd/system/ferry-receive.service
systemd-analyze verify "$UNIT" >"$T/verify.out" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.out")"
[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify: $(cat "$T/verify.out")"
[ -z "$(ls /etc/systemd/system/*.wants/ferry-receive.service 2>/dev/null)" ] || fail "the package enabled the receiver"
grep -qx /etc/ferry/receive.conf <(dpkg-query -W -f='${Conffiles}' ferry | awk '{ print $1 }') || fail "receive.conf is not a conffile"
log "unit verified, not enabled; receive.conf is a conffile"

# ---------------------------------------------------------------- the service
migrate_setup
(umask 077 && cp "$KEY" /etc/ferry/key)
sed -i -e 's/^FERRY_LISTEN=.*/FERRY_LISTEN=10.77.0.2:7070/' \
	-e 's|^FERRY_RECEIVE_OPTS=.*|FERRY_RECEIVE_OPTS=--stats-json /var/log/ferry/receive.jsonl --timeout 20|' /etc/ferry/receive.conf
unit_load "$UNIT"
log "ExecStart as systemd runs it: ${UNIT_ARGV[*]}"
[ "${UNIT_ARGV[*]}" = "/usr/bin/ferry receive --listen 10.77.0.2:7070 --key-file /etc/ferry/key --stats-json /var/log/ferry/receive.jsonl --timeout 20" ] ||
	fail "unexpected command line: ${UNIT_ARGV[*]}"
unit_start_in B "$T/journal"
wait_until 10 grep -q "listening on" "$T/journal" || fail "the receiver did not start: $(cat "$T/journal")"

wl_start_in_a mem256 64
nspid=$WL_NSPID ctl=$WL_CTL
sleep 0.3
ferry_send "$nspid" --key-file /etc/ferry/key
[ "$SEND_RC" = 0 ] || fail "send to the service: $(cat "$SEND_ERR")"
wait_until 10 ns_gone A "$nspid" || fail "pid $nspid still in A"
in_b_running "$nspid" || fail "pid $nspid does not run in B"
[ "$(json_num "$SEND_STATS" dest_pid)" = "$nspid" ] || fail "send stats: $(cat "$SEND_STATS")"
log "migrated pid $nspid to the service in B, downtime $(json_num "$SEND_STATS" downtime_ms) ms"
sleep 0.5
finish_in B mem256 "$nspid" "$ctl"
grep -q "pid $nspid from .* is running here" "$T/journal" || fail "the journal lacks the migration: $(cat "$T/journal")"
[ "$(grep -c '"command":"receive"' /var/log/ferry/receive.jsonl)" = 1 ] || fail "stats: $(cat /var/log/ferry/receive.jsonl)"
[ "$(stat -c %a /var/log/ferry/receive.jsonl)" = 600 ] || fail "the stats file is not 0600 (UMask=0077)"
unit_stop
[ "$UNIT_RC" = 0 ] || fail "the receiver exited $UNIT_RC on SIGTERM: $(cat "$T/journal")"
log "the service logged the migration and stopped on SIGTERM"

# ---------------------------------------------------------------- purge
dpkg --purge ferry >"$T/purge.log" 2>&1 || fail "dpkg --purge: $(cat "$T/purge.log")"
! dpkg-query -W ferry >/dev/null 2>&1 || fail "dpkg still knows ferry: $(dpkg-query -W -f='${Status}' ferry)"
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$T/files")
for d in /etc/ferry /var/log/ferry /usr/share/doc/ferry; do [ -e "$d" ] && left="$left $d"; done
[ -z "$left" ] || fail "left after purge: $left"
! env -u MANPATH man -w ferry >/dev/null 2>&1 || fail "man -w ferry still finds a page"
kill "$LOCK_PID" # the lock goes with it
wait "$LOCK_PID" 2>/dev/null
log "pass: purged, nothing left of $(wc -l <"$T/files") paths"
