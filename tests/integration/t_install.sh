#!/bin/bash
# make install / make uninstall: run with every mount read-only but DESTDIR
# and the build directory (so anything written elsewhere fails the test),
# they install exactly the command, a man page per command, the bash
# completion, ferry-receive.service and its config file, with the modes and
# the PREFIX paths the unit and the config name; the installed ferry runs and
# `man -w` finds its pages; a second install keeps a changed config file;
# uninstall leaves nothing but the changed config file, then nothing.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd unshare make man
B=${FERRY_BUILD:-$ROOT/build}
[ -d "$B/man" ] || fail "$B/man missing: run make first"

# in_readonly_fs DIR CMD..: CMD with every file system read-only but DIR and $B
in_readonly_fs() {
	local dir=$1
	shift
	unshare -m --propagation private bash -c '
		dir=$1 b=$2
		shift 2
		while read -r _ m type _; do
			case $type in proc | sysfs | cgroup* | devpts | mqueue | devtmpfs) continue ;; esac
			mount -o remount,bind,ro "$m" 2>/dev/null
		done </proc/self/mounts
		for w in "$dir" "$b"; do mount --bind "$w" "$w" && mount -o remount,bind,rw "$w" || exit 99; done
		touch "$b/../.t_install.probe" 2>/dev/null && { echo "the sandbox is not read-only"; exit 99; }
		"$@"' _ "$dir" "$B" "$@"
}

dest=$T/root
mkdir -p "$dest"
in_readonly_fs "$dest" make -s -C "$ROOT" B="$B" install DESTDIR="$dest" PREFIX=/usr/local >"$T/install.out" 2>&1 ||
	fail "make install: $(cat "$T/install.out")"
rm -f "$ROOT/.t_install.probe"

p=/usr/local
pages=$(cd "$B/man" && ls ./*.1 | sed 's|^\./||')
want=$( (
	echo "0755 $p/bin/ferry"
	for m in $pages; do echo "0644 $p/share/man/man1/$m"; done
	echo "0644 $p/share/bash-completion/completions/ferry"
	echo "0644 $p/lib/systemd/system/ferry-receive.service"
	echo "0644 $p/etc/ferry/receive.conf"
) | sort)
got=$(cd "$dest" && find . -type f -printf '%m %p\n' | sed 's|^\([0-7]*\) \./|0\1 /|' | sort)
[ "$got" = "$want" ] || fail "installed files:
$got
expected:
$want"
log "installed $(wc -l <<<"$got") files under DESTDIR$p"

"$dest$p/bin/ferry" --version | grep -q "^ferry " || fail "the installed ferry does not run"
unit=$dest$p/lib/systemd/system/ferry-receive.service
grep -qx "EnvironmentFile=$p/etc/ferry/receive.conf" "$unit" || fail "unit's EnvironmentFile: $(grep EnvironmentFile "$unit")"
grep -q "^ExecStart=$p/bin/ferry receive " "$unit" || fail "unit's ExecStart: $(grep ExecStart "$unit")"
grep -qx "FERRY_KEY_FILE=$p/etc/ferry/key" "$dest$p/etc/ferry/receive.conf" || fail "config's key file path"
! grep -rIq '@[A-Z]*@' "$dest" || fail "a placeholder left: $(grep -rIl '@[A-Z]*@' "$dest")"
for m in $pages; do
	w=$(MANPATH=$dest$p/share/man man -w "${m%.1}")
	[ "$w" = "$dest$p/share/man/man1/$m" ] || fail "man -w ${m%.1}: '$w'"
done

# the administrator's settings survive a second install, and uninstall
echo "FERRY_LISTEN=10.0.0.1:7070" >>"$dest$p/etc/ferry/receive.conf"
in_readonly_fs "$dest" make -s -C "$ROOT" B="$B" install DESTDIR="$dest" >"$T/install2.out" 2>&1 || fail "make install again: $(cat "$T/install2.out")"
grep -q "keeping $dest$p/etc/ferry/receive.conf" "$T/install2.out" || fail "second install: $(cat "$T/install2.out")"
tail -n1 "$dest$p/etc/ferry/receive.conf" | grep -q 10.0.0.1 || fail "second install overwrote the changed config"
in_readonly_fs "$dest" make -s -C "$ROOT" B="$B" uninstall DESTDIR="$dest" >"$T/un.out" 2>&1 || fail "make uninstall: $(cat "$T/un.out")"
left=$(cd "$dest" && find . -type f)
[ "$left" = "./usr/local/etc/ferry/receive.conf" ] || fail "after uninstall, left: $left"
grep -q "keeping .*receive.conf (changed)" "$T/un.out" || fail "uninstall did not say it kept the config: $(cat "$T/un.out")"
sed -i '$d' "$dest$p/etc/ferry/receive.conf" # as installed again
in_readonly_fs "$dest" make -s -C "$ROOT" B="$B" uninstall DESTDIR="$dest" >"$T/un2.out" 2>&1 || fail "make uninstall: $(cat "$T/un2.out")"
left=$(cd "$dest" && find . -type f; find . -path "*ferry*")
[ -z "$left" ] || fail "after uninstall, left: $left"
log "pass: install, reinstall, uninstall"
