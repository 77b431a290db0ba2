/* cmd_receive.c — `ferry receive --listen ADDR:PORT`: the destination side. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/interrupt.h"
#include "../migrate/receive.h"
#include "cli.h"
#include "fdopts.h"

static const char help[] =
	"Usage: ferry receive --listen ADDR:PORT (--key-file FILE | --insecure)\n"
	"                     [--once] [--timeout SECONDS] [--stats-json FILE]\n"
	"                     [--shell-job] [--inherit-fd N:FD]... [--map-addr OLD=NEW]...\n"
	"\n"
	"Waits for `ferry send` to move processes here. Each connection is one\n"
	"migration, served by its own child process, so several can run at once.\n"
	"For each: the sender must prove the pre-shared key (TLS 1.3) before\n"
	"anything else is read; the offer is refused with the reason if the pid is\n"
	"taken in this pid namespace or a file the process uses is missing or\n"
	"differs here. The process is rebuilt while its memory arrives (in a\n"
	"pre-copy migration, round by round while it still runs at the source:\n"
	"its address space here follows each round's layout, and each round is\n"
	"acknowledged once its pages are in), kept stopped until the sender says\n"
	"GO, then started with its original pid and tids. The sender chooses the\n"
	"mode. If the sender goes away before GO, the half-built process is\n"
	"discarded (the original runs on at the source). Nothing is written to disk.\n"
	"Each migrated process is reported on stdout with one line.\n"
	"\n"
	"In a post-copy or hybrid migration the sender opens a second connection to\n"
	"the same address for the pages the process faults on, and, with its\n"
	"--retry-for, connects again after the first one broke: each starts with a\n"
	"session token this side gave over the first, which routes it to the\n"
	"migration's child; the key is proven again on it. Until every page is in\n"
	"place the process here waits in its faults for what is missing (never\n"
	"reading zeros), also if this command dies.\n"
	"\n"
	"  -l, --listen ADDR:PORT  address to listen on (:PORT = every address)\n"
	"  -k, --key-file FILE     pre-shared key, the same as the sender's (hex, mode 0600)\n"
	"      --insecure          plain TCP, no authentication, no encryption\n"
	"  -1, --once              serve one migration, then exit with its result\n"
	"      --timeout SECONDS   longest wait for the sender at any step (default 30)\n"
	"  -s, --stats-json FILE   append one JSON line per migration to FILE\n"
	"  -j, --shell-job         a process that does not lead its session (a stage of a\n"
	"                          shell pipeline) joins this ferry's session and group;\n"
	"                          terminal fds get this ferry's terminal\n"
	"  -i, --inherit-fd N:FD   a process's fd N, declared with send --external fd:N,\n"
	"                          gets this ferry's fd FD\n"
	"  -a, --map-addr OLD=NEW  a TCP or UDP socket bound to address OLD (the source's)\n"
	"                          binds NEW here (a wildcard address needs nothing)\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 (with --once: the migration succeeded); 1 on an error, with one\n"
	"line `ferry: receive: ...` on stderr. SIGINT or SIGTERM stop the listener; a\n"
	"migration in progress that gets the signal too (Ctrl-C reaches all of them)\n"
	"is abandoned: its half-built process is discarded, the source keeps its own.\n";

int cmd_receive(int argc, char **argv)
{
	enum { OPT_INSECURE = 1000, OPT_TIMEOUT };
	static const struct option opts[] = {
		{"listen", required_argument, 0, 'l'},	  {"key-file", required_argument, 0, 'k'},
		{"insecure", no_argument, 0, OPT_INSECURE}, {"once", no_argument, 0, '1'},
		{"timeout", required_argument, 0, OPT_TIMEOUT}, {"stats-json", required_argument, 0, 's'},
		{"help", no_argument, 0, 'h'}, {"inherit-fd", required_argument, 0, 'i'},
		{"map-addr", required_argument, 0, 'a'}, {"shell-job", no_argument, 0, 'j'}, {0}};
	static struct restore_inherit *inherit; /* static: still reachable when a parse error returns */
	static struct restore_addr_map *addr_map;
	struct receive_opts o = {.timeout_ms = CLI_TIMEOUT_DEFAULT_S * 1000};
	const char *key_path = NULL;
	bool insecure = false;
	int c;
	while ((c = getopt_long(argc, argv, "l:k:1s:i:a:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'k': key_path = optarg; break;
		case OPT_INSECURE: insecure = true; break;
		case '1': o.once = true; break;
		case OPT_TIMEOUT:
			if (cli_parse_timeout("receive", optarg, &o.timeout_ms) < 0)
				return 1;
			break;
		case 's': o.stats_path = optarg; break;
		case 'j': o.restore.shell_job = true; break;
		case 'i':
			if (cli_add_inherit("receive", optarg, &inherit, &o.restore.ninherit) < 0)
				return 1;
			o.restore.inherit = inherit;
			break;
		case 'a':
			if (cli_add_map_addr("receive", optarg, &addr_map, &o.restore.naddr_map) < 0)
				return 1;
			o.restore.addr_map = addr_map;
			break;
		case 'h': fputs(help, stdout); return 0;
		default: fputs(help, stderr); return 1;
		}
	}
	if (!o.listen) {
		cli_error("receive", "--listen is required (see ferry receive --help)");
		return 1;
	}
	struct channel_key key;
	if (cli_channel_key("receive", key_path, insecure, &key, &o.key) < 0)
		return 1;
	char err[1024] = "";
	interrupt_catch();
	int r = receive_serve(&o, err, sizeof(err));
	if (r < 0) {
		if (err[0]) /* a failed --once migration already said why */
			cli_error("receive", "%s", err);
		return 1;
	}
	return 0;
}
