#!/usr/bin/perl
# genman.pl — writes one ferry man page (roff) from the binary's own --help,
# so the pages cannot drift from it: the synopsis, description, option list
# and exit status are `ferry [COMMAND] --help` turned into roff; the NAME line
# of a command is its line in `ferry --help`'s command list. Only what --help
# does not hold comes from the page's hand-written EXTRA file (roff `.SH`
# sections: EXAMPLES, FILES, ...; a NAME section there replaces the
# generated one). SEE ALSO lists every other ferry page, then EXTRA's.
#
# Usage: genman.pl FERRY COMMAND|ferry [EXTRA] > page.1
# The date is SOURCE_DATE_EPOCH's (reproducible builds) or today's.
# How --help is read (see any src/cli/cmd_*.c): blocks are separated by blank
# lines; "Usage:" starts the synopsis; an indented block is a list whose
# entries start at an indent of at most 8 ("  -t, --pid PID   text" or
# "  name   text") and continue deeper; "Heading:" alone on a line names the
# list or example below it; "Exit status: ..." is the EXIT STATUS section.
use strict;
use warnings;
use POSIX qw(strftime);

my ($ferry, $cmd, $extra_path) = @ARGV;
die "usage: genman.pl FERRY COMMAND|ferry [EXTRA]\n" unless defined $cmd;
my $is_main = $cmd eq 'ferry';
my $page = $is_main ? 'ferry' : "ferry-$cmd";

sub run_ferry {
	open(my $fh, '-|', $ferry, @_) or die "genman: cannot run $ferry: $!\n";
	local $/;
	my $out = <$fh>;
	close($fh) or die "genman: $ferry @_ failed\n";
	return $out;
}

my $main_help = run_ferry('--help');
my $help = $is_main ? $main_help : run_ferry($cmd, '--help');
my ($version) = run_ferry('--version') =~ /^ferry (\S+)/ or die "genman: no version from $ferry --version\n";

# ------------------------------------------------------------ roff output
sub esc { # plain text -> roff-safe text; `code` in bold, option names with \-
	my ($t) = @_;
	$t =~ s/\\/\\e/g;
	$t =~ s/`([^`]+)`/\\fB$1\\fR/g;
	$t =~ s{(^|[\s(\[|,/=])(--?[A-Za-z0-9][\w-]*)}{ my ($p, $o) = ($1, $2); $o =~ s/-/\\-/g; "$p$o" }gme;
	$t =~ s/^([.'])/\\&$1/mg;
	return $t;
}

sub term { # "-t, --pid PID" -> options bold, their placeholder italic
	my ($t) = @_;
	return esc($t) unless $t =~ /^-/;
	return join(' ', map {
		my $w = $_;
		if ($w =~ /^(-[\w-]*?)(,?)$/) { my ($o, $c) = ($1, $2); $o =~ s/-/\\-/g; "\\fB$o\\fR$c" }
		else { "\\fI" . esc($w) . "\\fR" }
	} split(/ /, $t));
}

sub synopsis_line { # a Usage line: options bold, placeholders italic
	my ($l) = @_;
	my $out = esc($l);
	$out =~ s/(\\-\\-[\w\\-]+|(?<![\w\\])\\-\w+)/\\fB$1\\fR/g;
	$out =~ s/\b([A-Z][A-Z0-9_]*(?::[A-Z]+)?)\b/\\fI$1\\fR/g;
	$out =~ s/^(ferry(?: [a-z]+)?)/\\fB$1\\fR/;
	return $out;
}

# ------------------------------------------------------------ parse --help
# An entry line of a list: indent <= 8, a term, two spaces and the text. An
# option's term is its flags and the placeholder after them: a word followed
# by two spaces ("--external fd:N  text") or an upper-case one followed by
# one ("--max-iterations N text").
sub option_entry {
	my ($l) = @_;
	$l =~ /^ {2,8}(-{1,2}[\w-]+(?:, -{1,2}[\w-]+)*)(.*)$/ or return;
	my ($flags, $rest) = ($1, $2);
	if ($rest =~ /^ (\S+)(?: {2,}(.*))?$/ || $rest =~ /^ ([A-Z][A-Z0-9:_|=]*) (\S.*)$/) {
		return ["$flags $1", $2 // ''];
	}
	$rest =~ s/^\s+//;
	return [$flags, $rest];
}
sub list_entries {
	my (@lines) = @_;
	my (@entries, @after);
	for my $l (@lines) {
		if (my $e = option_entry($l)) {
			push @entries, $e;
		} elsif ($l =~ /^ {2,8}(\S+)(?: {2,}(\S.*))$/) {
			push @entries, [$1, $2];
		} elsif ($l =~ /^ {9,}(\S.*)$/ && @entries) {
			$entries[-1][1] .= "\n$1";
		} else {
			(my $t = $l) =~ s/^\s+//;
			push @after, $t;
		}
	}
	return (\@entries, \@after);
}

my (@synopsis, @description, @commands, @options, @exit_status, @examples);
my @blocks = split(/\n[ \t]*\n/, $help);
for my $block (@blocks) {
	$block =~ s/\n+$//;
	my @lines = split(/\n/, $block);
	next unless @lines;
	if ($lines[0] =~ /^Usage: (.*)$/) {
		push @synopsis, $1, map { s/^\s+/    /r } @lines[1 .. $#lines];
		next;
	}
	if ($lines[0] =~ /^Exit status: (.*)$/) {
		push @exit_status, join("\n", $1, @lines[1 .. $#lines]);
		next;
	}
	my $heading;
	if ($lines[0] =~ /^([A-Z][\w ]*):$/) {
		$heading = $1;
		shift @lines;
	}
	if (@lines && $lines[0] =~ /^ {2}/) {
		if (defined $heading && $heading =~ /^Examples?$/) {
			push @examples, ['pre', map { s/^  //r } @lines];
			next;
		}
		my ($entries, $after) = list_entries(@lines);
		my $is_options = @$entries && !grep { $_->[0] !~ /^-/ } @$entries;
		if (defined $heading && $heading eq 'Commands') {
			push @commands, @$entries;
		} elsif ($is_options) {
			push @options, @$entries;
		} else {
			push @description, ['ss', $heading] if defined $heading;
			push @description, ['list', $entries];
		}
		push @description, ['para', join("\n", @$after)] if @$after;
		next;
	}
	unshift @lines, "$heading:" if defined $heading;
	push @description, ['para', join("\n", @lines)];
}

my %summary = map { $_->[0] => $_->[1] } (list_entries(grep { /^ {2}\S/ } split(/\n/, ($main_help =~ /^Commands:\n((?: .*\n)+)/m)[0] // '')))[0]->@*;
my @pages = ('ferry', map { "ferry-$_" } sort keys %summary);
$is_main || exists $summary{$cmd} or die "genman: '$cmd' is not in ferry --help's command list\n";

# ------------------------------------------------------------ EXTRA's sections
my (@extra_order, %extra);
if (defined $extra_path) {
	open(my $fh, '<', $extra_path) or die "genman: $extra_path: $!\n";
	my $cur;
	while (my $l = <$fh>) {
		if ($l =~ /^\.SH "?([^"\n]+)"?$/) {
			$cur = $1;
			push @extra_order, $cur unless exists $extra{$cur};
			$extra{$cur} //= '';
		} elsif (defined $cur) {
			$extra{$cur} .= $l;
		} elsif ($l !~ /^\.\\"/ && $l =~ /\S/) {
			die "genman: $extra_path: text before the first .SH\n";
		}
	}
}

@synopsis or die "genman: no Usage line in ${page}'s --help\n";
@exit_status or die "genman: no 'Exit status:' paragraph in ${page}'s --help\n";
@options or die "genman: no options in ${page}'s --help\n";
@examples || exists $extra{EXAMPLES} or die "genman: $page has no examples (--help or $extra_path)\n";

# ------------------------------------------------------------ write
my $date = strftime('%Y-%m-%d', gmtime($ENV{SOURCE_DATE_EPOCH} // time));
my $out = '';
sub put { $out .= join('', @_) . "\n" }
sub list_out {
	my ($entries, $term_fn) = @_;
	for my $e (@$entries) {
		put('.TP');
		put($term_fn->($e->[0]));
		put(esc($e->[1])) if $e->[1] ne '';
	}
}

put(".\\\" Generated by man/genman.pl from `ferry", ($is_main ? '' : " $cmd"), " --help`: edit that, not this.");
put('.TH ', uc($page), ' 1 ', $date, ' "ferry ', $version, '" "User Commands"');
put('.SH NAME');
if (exists $extra{NAME}) {
	$out .= $extra{NAME};
} else {
	put($page, q( \- ), esc($summary{$cmd}));
}
put('.SH SYNOPSIS');
put('.nf');
put(synopsis_line($_)) for @synopsis;
put('.fi');
put('.SH DESCRIPTION');
for my $d (@description) {
	my ($kind, $v) = @$d;
	if ($kind eq 'para') { put('.PP'); put(esc($v)) }
	elsif ($kind eq 'ss') { put('.SS ', esc($v)) }
	else { list_out($v, \&term) }
}
if (@commands) {
	put('.SH COMMANDS');
	list_out([map { [$_->[0], "$_->[1] (see `ferry-$_->[0]`(1))"] } @commands], sub { "\\fB$_[0]\\fR" });
}
put('.SH OPTIONS');
list_out(\@options, \&term);
put('.SH "EXIT STATUS"');
put(join("\n.PP\n", map { esc($_) } @exit_status));
put('.SH EXAMPLES');
for my $ex (@examples) {
	my (undef, @pre) = @$ex;
	put('.PP');
	put('.RS 4');
	put('.nf');
	put(esc($_)) for @pre;
	put('.fi');
	put('.RE');
}
$out .= delete($extra{EXAMPLES}) // '';
delete $extra{NAME};
for my $s (grep { exists $extra{$_} && $_ ne 'SEE ALSO' } @extra_order) {
	put('.SH ', $s =~ / / ? "\"$s\"" : $s);
	$out .= $extra{$s};
}
put('.SH "SEE ALSO"');
my @see = map { "\\fB" . s/-/\\-/gr . "\\fR(1)" } grep { $_ ne $page } @pages;
put(join(",\n", @see), exists $extra{'SEE ALSO'} ? ',' : '');
$out .= $extra{'SEE ALSO'} // '';
print $out;
