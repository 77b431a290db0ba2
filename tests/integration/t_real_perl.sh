#!/bin/bash
# A real interpreter: a deterministic perl computation (~5 s, a line of
# output every 100k steps) checkpointed in the middle; its output must be
# byte-identical with an uninterrupted run.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd perl cmp
require_ferry

cat >"$T/calc.pl" <<'PERL'
use strict; use warnings;
$| = 1;
my $n = shift // 15000000;
my ($x, $s) = (1, 0.5);
my %h; my @a;
for my $i (1 .. $n) {
	$x = ($x * 1103515245 + 12345) % 2147483648;
	$s = $s * 0.999999 + sqrt($x) / 1e6;
	my $k = $x % 5003;
	$h{$k} .= chr(65 + $x % 26) if length($h{$k} // '') < 64;
	push @a, $x if $i % 7 == 0;
	shift @a if @a > 20000;
	if ($i % 100000 == 0) {
		my $sum = 0; $sum = ($sum * 31 + $_) % 1000000007 for @a;
		my $cat = join('', map { $h{$_} } sort { $a <=> $b } keys %h);
		printf "%d %d %.12f %d %d %s\n", $i, $x, $s, scalar(keys %h), $sum, substr($cat, length($cat) / 2, 24);
	}
}
print "done\n";
PERL
t0=$(date +%s%N)
perl "$T/calc.pl" >"$T/ref.out" </dev/null || fail "reference run"
t1=$(date +%s%N)
nref=$(wc -l <"$T/ref.out")
log "reference: $nref lines in $(((t1 - t0) / 1000000)) ms"

setsid perl "$T/calc.pl" >"$T/out.txt" 2>"$T/perl.err" </dev/null &
pid=$!
track_pid "$pid"
_partway() { [ "$(wc -l <"$T/out.txt")" -ge $((nref / 4)) ] || ! pid_alive "$pid"; }
wait_until 60 _partway || fail "perl makes no progress"
pid_alive "$pid" || fail "perl finished before the dump"
log "dumping perl pid $pid at $(wc -l <"$T/out.txt") lines"
ferry_dump "$pid" "$T/img" || fail "dump failed"
ferry_restore "$T/img"
wait_restored "$pid" "$RESTORE_PID"
wait_exit "$RESTORE_PID" 120 || fail "restored perl did not finish"
[ "$EXIT_RC" = 0 ] || fail "restored perl exited with $EXIT_RC: $(cat "$T/perl.err" "$RESTORE_ERR")"
cmp "$T/ref.out" "$T/out.txt" || {
	diff "$T/ref.out" "$T/out.txt" | head -n 10
	fail "output differs from the uninterrupted run"
}
log "pass: $nref identical lines"
