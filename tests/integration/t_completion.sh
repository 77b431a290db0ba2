#!/bin/bash
# bash completion (contrib/bash-completion/ferry) as bash runs it on Tab:
# the commands are those with a man page (build/man); a command's flags are
# its --help's and no other's; --pid offers the running pids (one started
# here among them), --dir only directories, --mode, --compress and --feature
# their values (--feature: the same names t_check knows).
. "$(dirname "$0")/lib.sh"
require_ferry
MAN_DIR=${FERRY_MAN_DIR:-$ROOT/build/man}
# shellcheck source=../../contrib/bash-completion/ferry
. "$ROOT/contrib/bash-completion/ferry"
[ "$(complete -p ferry)" = "complete -F _ferry ferry" ] || fail "not registered: $(complete -p ferry 2>&1)"

# tab WORD..: what Tab offers after `ferry WORD..` (the last word is the one
# being completed), sorted, on one line
tab() {
	COMP_WORDS=("$FERRY" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_ferry
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # WANT WORD..
	local want=$1 got
	shift
	got=$(tab "$@")
	[ "$got" = "$want" ] || fail "ferry $* <Tab>: got '$got', expected '$want'"
	log "ferry $* <Tab> -> $got"
}

pages=$(cd "$MAN_DIR" && ls ferry-*.1 | sed 's/^ferry-//; s/\.1$//' | sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$pages" ] || fail "no man pages in $MAN_DIR (make man)"
expect "$pages" ""
expect "receive restore" re
expect "receive restore" -v re
expect send se
expect "--help --version" --
expect --key-file send --ke
expect "--leave-running" dump --lea
expect "" send --lea # dump's, not send's
send_flags=$(tab send --)
for f in --pid --to --key-file --insecure --mode --downtime-limit --max-iterations --goal --timeout \
	--shell-job --compress --bandwidth --quiet --stats-json --help; do
	[[ " $send_flags " == *" $f "* ]] || fail "send --<Tab> lacks $f: $send_flags"
done
expect "hybrid postcopy precopy stop-and-copy" send --mode ""
expect stop-and-copy send --pid 1 --mode s
expect "lz4 zstd" send --compress ""
expect "clone3_set_tid pagemap_scan pidfd_getfd process_vm ptrace soft_dirty sysv_shm_ids timer_restore_ids uffd_wp_async userfaultfd" check --feature ""
expect uffd_wp_async check -f uf

sleep 30 &
sl=$!
track_pid "$sl"
pids=$(tab dump --pid "")
[[ " $pids " == *" $sl "* ]] || fail "dump --pid <Tab> does not offer pid $sl"
! grep -q '[^0-9 ]' <<<"$pids" || fail "dump --pid <Tab> offers more than pids: $pids"
expect "$sl" send --pid "$sl"
log "--pid offers $(wc -w <<<"$pids") pids, $sl among them"
kill "$sl"

mkdir -p "$T/imgdir" "$T/imgdir2"
touch "$T/imgfile"
expect "$T/imgdir $T/imgdir2" restore --dir "$T/img"
expect "$T/imgdir $T/imgdir2 $T/imgfile" send --key-file "$T/img"
log pass
