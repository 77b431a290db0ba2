#!/bin/bash
# ferry check: one line per feature whose yes/no matches what this machine
# has (found here independently: kernel version, kernel config, smaps flags),
# "required" on the three restore needs, exit 0 and "Looks good" since all
# of those are here; --feature exits 0 for a present feature, 1 for an absent
# one, and 1 with a one-line error for an unknown name.
. "$(dirname "$0")/lib.sh"
require_root
require_ferry

features="ptrace clone3_set_tid process_vm pidfd_getfd userfaultfd uffd_wp_async pagemap_scan soft_dirty timer_restore_ids sysv_shm_ids"
required="ptrace clone3_set_tid process_vm"

# kernel version as a number: 6.18 -> 618
kver=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
# kconfig NAME -> y or n (from /proc/config.gz), "?" when the config is not exposed
kconfig() {
	[ -r /proc/config.gz ] || {
		echo '?'
		return
	}
	if zcat /proc/config.gz | grep -q "^CONFIG_$1=y"; then echo y; else echo n; fi
}
yn() { if "$@"; then echo yes; else echo no; fi; }
# soft-dirty: the kernel config, else the "sd" VmFlag that only a kernel with
# CONFIG_MEM_SOFT_DIRTY prints for new mappings
soft_dirty_here() {
	case $(kconfig MEM_SOFT_DIRTY) in
	y) return 0 ;; n) return 1 ;;
	esac
	grep -q '^VmFlags:.* sd' /proc/self/smaps
}
uffd_here() { [ "$(kconfig USERFAULTFD)" = y ] || [ -e /proc/sys/vm/unprivileged_userfaultfd ]; }
declare -A want=(
	[ptrace]=yes [clone3_set_tid]=$(yn test "$kver" -ge 505) [process_vm]=yes
	[pidfd_getfd]=$(yn test "$kver" -ge 506) [userfaultfd]=$(yn uffd_here)
	[uffd_wp_async]=$(yn eval 'uffd_here && [ "$kver" -ge 607 ] && [ "$(kconfig HAVE_ARCH_USERFAULTFD_WP)" != n ]')
	[pagemap_scan]=$(yn eval '[ "$kver" -ge 607 ] && [ "$(kconfig PROC_PAGE_MONITOR)" != n ]')
	[soft_dirty]=$(yn soft_dirty_here)
	[timer_restore_ids]=$(yn eval '[ "$kver" -ge 615 ] && [ "$(kconfig POSIX_TIMERS)" != n ]')
	[sysv_shm_ids]=$(yn eval '[ "$(kconfig SYSVIPC)" != n ] && [ "$(kconfig CHECKPOINT_RESTORE)" != n ] && [ -w /proc/sys/kernel/shm_next_id ]')
)
log "kernel $(uname -r); expected: $(for f in $features; do printf '%s=%s ' "$f" "${want[$f]}"; done)"

timeout 30 "$FERRY" check >"$T/check.out" 2>"$T/check.err"
rc=$?
cat "$T/check.out" "$T/check.err"
[ "$rc" = 0 ] || fail "ferry check exited $rc, expected 0 (every required feature is here)"
[ ! -s "$T/check.err" ] || fail "ferry check wrote to stderr: $(cat "$T/check.err")"
for f in $features; do
	n=$(grep -c "^$f " "$T/check.out")
	[ "$n" = 1 ] || fail "$f: $n lines in ferry check's output, expected 1"
	line=$(grep "^$f " "$T/check.out")
	got=$(awk '{ print $2 }' <<<"$line")
	[ "$got" = "${want[$f]}" ] || fail "$f: ferry check says '$got', this machine has '${want[$f]}': $line"
	case " $required " in
	*" $f "*) [[ $line == *"(required)"* ]] || fail "$f is not marked required: $line" ;;
	*) [[ $line != *"(required)"* ]] || fail "$f is marked required: $line" ;;
	esac
	[[ $line == *" -- "?* ]] || fail "$f: no description: $line"
done
if [ "${want[uffd_wp_async]}" = yes ] && [ "${want[pagemap_scan]}" = yes ] && [ "${want[pidfd_getfd]}" = yes ]; then
	backend="uffd_wp_async + pagemap_scan"
elif [ "${want[soft_dirty]}" = yes ]; then
	backend=soft_dirty
else
	backend="none (full resend)"
fi
grep -qx "dirty tracking for pre-copy: $backend" "$T/check.out" ||
	fail "expected 'dirty tracking for pre-copy: $backend': $(grep 'dirty tracking' "$T/check.out")"
[ "$(grep -c . "$T/check.out")" = $(($(wc -w <<<"$features") + 2)) ] || fail "unexpected extra lines in ferry check's output"
[ "$(tail -n1 "$T/check.out")" = "Looks good: dump and restore work here." ] || fail "last line: $(tail -n1 "$T/check.out")"

# --feature: exit status and line for every feature, present or absent
for f in $features; do
	timeout 30 "$FERRY" check --feature "$f" >"$T/f.out" 2>"$T/f.err"
	rc=$?
	if [ "${want[$f]}" = yes ]; then
		[ "$rc" = 0 ] || fail "check --feature $f exited $rc, expected 0: $(cat "$T/f.out" "$T/f.err")"
		grep -q "^$f is supported: ." "$T/f.out" || fail "check --feature $f: $(cat "$T/f.out")"
	else
		[ "$rc" = 1 ] || fail "check --feature $f exited $rc, expected 1: $(cat "$T/f.out" "$T/f.err")"
		grep -q "^$f is not supported: ." "$T/f.out" || fail "check --feature $f: $(cat "$T/f.out")"
	fi
	log "--feature $f -> rc $rc: $(cat "$T/f.out")"
done
# both exit statuses must have been exercised (here, 6.18 without soft-dirty:
# uffd_wp_async yes, soft_dirty no)
[[ " ${want[*]} " == *" yes "* && " ${want[*]} " == *" no "* ]] || fail "no present and absent feature pair to check --feature with"

timeout 30 "$FERRY" check --feature no_such_feature >"$T/u.out" 2>"$T/u.err"
rc=$?
[ "$rc" = 1 ] || fail "check --feature no_such_feature exited $rc, expected 1"
[ "$(cat "$T/u.err")" = "ferry: check: unknown feature 'no_such_feature' (see ferry check --help)" ] ||
	fail "unknown feature: stderr is '$(cat "$T/u.err")'"
log "pass"
