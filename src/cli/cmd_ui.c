/* cmd_ui.c — `ferry ui --listen ADDR:PORT [--peer NAME=HOST:PORT,...]`: the
 * options of the web page and JSON API (src/ui/). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../ui/ui.h"
#include "cli.h"

#define UI_LISTEN_DEFAULT "127.0.0.1:7080"
#define TOKEN_MIN 16 /* characters: anything shorter is guessable */

static const char help[] =
	"Usage: ferry ui [--listen ADDR:PORT] [--peer NAME=HOST:PORT,key-file=FILE]...\n"
	"                [--peer NAME=HOST:PORT,insecure]... [--token-file FILE] [--timeout SECONDS]\n"
	"\n"
	"Serves a web page and a JSON API (see README, \"ferry ui\") to see this host's\n"
	"process trees, ask whether ferry can move a process (and why not), migrate it\n"
	"to one of the peers (each a `ferry receive`) with a mode and its knobs, and\n"
	"follow the migration live: rounds, pages sent, dirty rate, bytes over time,\n"
	"predicted and measured downtime; a history of the migrations and a chart of\n"
	"their downtimes by mode. A migration runs `ferry send`'s own code.\n"
	"\n"
	"  -l, --listen ADDR:PORT  where to serve (default " UI_LISTEN_DEFAULT "). On any\n"
	"                          address but loopback every request needs the access\n"
	"                          token: printed at start, or --token-file\n"
	"  -p, --peer NAME=HOST:PORT,key-file=FILE\n"
	"                          a `ferry receive` to offer as \"migrate to NAME\", with\n"
	"                          its pre-shared key (as ferry send --key-file); or\n"
	"                          NAME=HOST:PORT,insecure for plain TCP (a receive\n"
	"                          started with --insecure); repeat for more peers\n"
	"      --token-file FILE   the access token (its first line, at least 16 of\n"
	"                          A-Z a-z 0-9 . _ ~ -), required then on loopback too\n"
	"      --timeout SECONDS   each migration's longest wait for its peer (default 30)\n"
	"  -h, --help              this text\n"
	"\n"
	"Runs until SIGINT or SIGTERM; migrations still running then stop as\n"
	"`ferry send` does on Ctrl-C (the process resumes here) and are waited for.\n"
	"\n"
	"Exit status: 0 once stopped by a signal; 1 if it cannot start (bad options,\n"
	"the address is taken), with one line on stderr.\n"
	"\n"
	"Example:\n"
	"  B$ ferry receive --listen :7070 --key-file /etc/ferry/key\n"
	"  A$ ferry ui --peer hostb=hostb:7070,key-file=/etc/ferry/key\n"
	"  A$ xdg-open http://127.0.0.1:7080/\n";

/* "NAME=HOST:PORT,key-file=F" or "NAME=HOST:PORT,insecure" into *p. */
static int parse_peer(const char *spec, struct ui_peer *p)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *eq = strchr(buf, '=');
	if (!eq || eq == buf || (size_t)(eq - buf) >= sizeof(p->name)) {
		cli_error("ui", "--peer takes NAME=HOST:PORT,key-file=FILE (or ,insecure), not '%s'", spec);
		return -1;
	}
	*eq = '\0';
	for (const char *c = buf; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) {
			cli_error("ui", "--peer: a peer's name is made of A-Z a-z 0-9 . _ -, not '%s'", buf);
			return -1;
		}
	snprintf(p->name, sizeof(p->name), "%s", buf);
	char *addr = eq + 1, *opt = strchr(addr, ',');
	if (opt)
		*opt++ = '\0';
	snprintf(p->address, sizeof(p->address), "%s", addr);
	const char *key_path = NULL;
	bool insecure = false;
	for (char *next; opt && *opt; opt = next) {
		if ((next = strchr(opt, ',')))
			*next++ = '\0';
		if (strncmp(opt, "key-file=", 9) == 0 && opt[9])
			key_path = opt + 9;
		else if (strcmp(opt, "insecure") == 0)
			insecure = true;
		else {
			cli_error("ui", "--peer %s: unknown option '%s' (key-file=FILE, insecure)", p->name, opt);
			return -1;
		}
	}
	if (!addr[0]) {
		cli_error("ui", "--peer %s: HOST:PORT is missing", p->name);
		return -1;
	}
	const struct channel_key *k;
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "ui: --peer %s", p->name);
	if (cli_channel_key(cmd, key_path, insecure, &p->key, &k) < 0)
		return -1;
	p->insecure = insecure;
	return 0;
}

static int read_token(const char *path, char *out, size_t len)
{
	char *text = NULL;
	size_t n;
	if (read_small_file(path, &text, &n) < 0) {
		cli_error("ui", "cannot read the token file %s: %m", path);
		return -1;
	}
	size_t l = strcspn(text, "\r\n");
	bool ok = l >= TOKEN_MIN && l < len;
	for (size_t i = 0; ok && i < l; i++)
		ok = isalnum((unsigned char)text[i]) || strchr("._~-", text[i]);
	if (ok)
		snprintf(out, len, "%.*s", (int)l, text);
	free(text);
	if (!ok)
		cli_error("ui", "the token in %s must be %d to %zu of A-Z a-z 0-9 . _ ~ - on its first line", path,
			  TOKEN_MIN, len - 1);
	return ok ? 0 : -1;
}

int cmd_ui(int argc, char **argv)
{
	enum { OPT_TOKEN_FILE = 1000, OPT_TIMEOUT };
	static const struct option opts[] = {
		{"listen", required_argument, 0, 'l'},	     {"peer", required_argument, 0, 'p'},
		{"token-file", required_argument, 0, OPT_TOKEN_FILE}, {"timeout", required_argument, 0, OPT_TIMEOUT},
		{"help", no_argument, 0, 'h'},		     {0}};
	static struct ui_opts o; /* large (peers' keys); lives as long as the server */
	o = (struct ui_opts){.listen = UI_LISTEN_DEFAULT, .timeout_ms = CLI_TIMEOUT_DEFAULT_S * 1000};
	int c;
	while ((c = getopt_long(argc, argv, "l:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'p':
			if (o.npeers == UI_PEERS_MAX) {
				cli_error("ui", "at most %d peers", UI_PEERS_MAX);
				return 1;
			}
			if (parse_peer(optarg, &o.peers[o.npeers]) < 0)
				return 1;
			for (int i = 0; i < o.npeers; i++)
				if (strcmp(o.peers[i].name, o.peers[o.npeers].name) == 0) {
					cli_error("ui", "two peers are named '%s'", o.peers[i].name);
					return 1;
				}
			o.npeers++;
			break;
		case OPT_TOKEN_FILE:
			if (read_token(optarg, o.token, sizeof(o.token)) < 0)
				return 1;
			o.token_given = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_timeout("ui", optarg, &o.timeout_ms) < 0)
				return 1;
			break;
		case 'h': fputs(help, stdout); return 0;
		default: fputs(help, stderr); return 1;
		}
	}
	if (optind < argc) {
		cli_error("ui", "unexpected argument '%s' (see ferry ui --help)", argv[optind]);
		return 1;
	}
	char err[1024] = "";
	if (ui_serve(&o, err, sizeof(err)) < 0) {
		cli_error("ui", "%s", err);
		return 1;
	}
	return 0;
}
