#!/usr/bin/perl
# flipproxy.pl LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT OFFSET
# A one-connection TCP relay that flips one bit of the byte at OFFSET of the
# client-to-server direction (and relays everything else unchanged), to show
# that ferry detects corruption on the wire. Prints "flipped" on stderr when
# it did. Test tool only: loopback or the test hosts' addresses.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($laddr, $lport, $taddr, $tport, $offset) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => $laddr, LocalPort => $lport, Listen => 1, ReuseAddr => 1)
	or die "listen: $!";
print STDERR "listening\n";
my $c = $l->accept or die "accept: $!";
my $s = IO::Socket::INET->new(PeerAddr => $taddr, PeerPort => $tport) or die "connect: $!";
my $sel = IO::Select->new($c, $s);
my $seen = 0;
while (1) {
	my @ready = $sel->can_read(60);
	last unless @ready;
	for my $h (@ready) {
		my $buf;
		my $n = sysread($h, $buf, 65536);
		exit 0 unless $n;
		if ($h == $c) {
			if ($offset >= $seen && $offset < $seen + $n) {
				my $i = $offset - $seen;
				substr($buf, $i, 1) = chr(ord(substr($buf, $i, 1)) ^ 0x10);
				print STDERR "flipped\n";
			}
			$seen += $n;
			syswrite($s, $buf) == $n or exit 1;
		} else {
			syswrite($c, $buf) == $n or exit 1;
		}
	}
}
