/* cmd_send.c — `ferry send --pid PID --to HOST:PORT`: live-migrate a process. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../inspect/capture.h"
#include "../migrate/send.h"
#include "cli.h"
#include "fdopts.h"

static const char help[] =
	"Usage: ferry send --pid PID --to HOST:PORT (--key-file FILE | --insecure)\n"
	"                  [--mode precopy|stop-and-copy|postcopy|hybrid] [--downtime-limit MS]\n"
	"                  [--max-iterations N] [--postcopy-after N] [--no-urgent-channel]\n"
	"                  [--no-read-ahead] [--no-push] [--retry-for SECONDS]\n"
	"                  [--goal PCT] [--timeout SECONDS] [--bandwidth RATE] [--compress CODEC]\n"
	"                  [--shell-job] [--ghost-limit SIZE] [--external fd:N]... [--quiet]\n"
	"                  [--stats-json FILE]\n"
	"\n"
	"Moves the running process PID, with all its threads, to the `ferry receive`\n"
	"listening at HOST:PORT. The process keeps its pid, memory, registers, files\n"
	"and offsets there. Nothing is written to disk on either side.\n"
	"\n"
	"Before the process is touched, the destination checks that its pid is free\n"
	"there and that every file it maps or holds open exists there with the same\n"
	"size and mtime, and refuses with the reason otherwise. Then the process is\n"
	"frozen and its state and memory stream to the destination, which rebuilds\n"
	"it while the data arrives and answers READY. Only then is the switch made:\n"
	"the destination starts the process and answers RUNNING, and the copy here\n"
	"is killed. Any failure before READY (refusal, dropped connection, timeout,\n"
	"Ctrl-C) leaves the process running here exactly as it was, with one line\n"
	"saying why. If the connection drops after the switch was ordered, the\n"
	"process is left stopped here (never running twice) and the line says how\n"
	"to resolve it.\n"
	"\n"
	"Modes:\n"
	"  precopy        (default where the kernel tracks written pages; `ferry check`\n"
	"                 says) copy the memory while the process runs, then rounds of\n"
	"                 only the pages written since the previous round, each with\n"
	"                 the layout as it is then (new, moved and removed mappings);\n"
	"                 when the estimated pause (what is left / the measured rate +\n"
	"                 the switch's own cost) fits --downtime-limit, or a cap is hit,\n"
	"                 freeze and send the rest. The rounds also end when the\n"
	"                 estimate stops falling (a process that writes about as fast\n"
	"                 as the link carries: more rounds would only resend). The\n"
	"                 pause is short; the total time and bytes grow with the rate\n"
	"                 at which the process writes\n"
	"  stop-and-copy  freeze, stream everything, switch (the pause is the whole\n"
	"                 transfer; reading, sending and rebuilding overlap): for a\n"
	"                 process that writes faster than the link can carry\n"
	"  postcopy       freeze, send everything but the contents of private writable\n"
	"                 anonymous memory, start the process there at once (the pause\n"
	"                 does not grow with its memory); the destination asks for each\n"
	"                 page the process touches (with read-ahead) while this side\n"
	"                 pushes the rest, and this copy stays stopped until every page\n"
	"                 is in place. If the link fails before that, the process waits\n"
	"                 there for its pages and this copy is kept stopped (the line\n"
	"                 says so): nothing is lost, but it does not go on by itself\n"
	"  hybrid         pre-copy rounds under the same flags; if they end with a pause\n"
	"                 that fits --downtime-limit, the switch is pre-copy's; else\n"
	"                 (a cap, or --postcopy-after) the process starts there at once\n"
	"                 and what it wrote since the last round follows as in\n"
	"                 post-copy (a page the destination holds from a round is never\n"
	"                 asked for or sent again)\n"
	"\n"
	"  -t, --pid PID          process to move\n"
	"  -T, --to HOST:PORT     where `ferry receive` listens (IPv4, [IPv6] or a name)\n"
	"  -k, --key-file FILE    pre-shared key (hex, 16-64 bytes, mode 0600; make one\n"
	"                         with `openssl rand -hex 32`): TLS 1.3 authenticated by\n"
	"                         the key; a peer without it is refused before any state\n"
	"                         crosses\n"
	"      --insecure         plain TCP, no authentication, no encryption (only on a\n"
	"                         link you trust, e.g. between test namespaces)\n"
	"  -m, --mode MODE        precopy, stop-and-copy, postcopy or hybrid (see Modes)\n"
	"      --downtime-limit MS  pre-copy: switch as soon as the estimated pause is at\n"
	"                         most MS milliseconds (default 50)\n"
	"      --max-iterations N pre-copy: at most N rounds while the process runs\n"
	"                         (default 10, as LXD); then switch even if the pause\n"
	"                         will be longer (the progress line and stats say so)\n"
	"      --postcopy-after N hybrid: switch to post-copy after N rounds at the latest\n"
	"      --no-urgent-channel  post-copy: no second connection for page requests\n"
	"                         (by default the pages a fault asks for cross on their\n"
	"                         own connection, never behind pushed pages)\n"
	"      --no-read-ahead    post-copy: a fault asks for its own page only (by\n"
	"                         default neighbours come with it: 1 to 256 pages, more\n"
	"                         after sequential faults, fewer after random ones)\n"
	"      --no-push          post-copy: send only the pages asked for while the\n"
	"                         process faults; the rest is pushed once it asked for\n"
	"                         nothing for 1 s (by default pushed from the start,\n"
	"                         next to the last fault first)\n"
	"      --retry-for SECONDS  post-copy: if the connection breaks after the\n"
	"                         process started there, connect again for up to\n"
	"                         SECONDS (its faults wait meanwhile, this copy stays\n"
	"                         stopped) and go on where it stopped; after that, give\n"
	"                         up as without it (default 0: give up at once)\n"
	"      --goal PCT         pre-copy: also switch once PCT % of the pages were not\n"
	"                         written during the last round (LXD's goal; off by\n"
	"                         default: it can switch long before the pause is short)\n"
	"      --timeout SECONDS  longest wait for the peer at any step (default 30)\n"
	"  -j, --shell-job        allow terminal fds (reattached to the receiver's terminal)\n"
	"      --ghost-limit SIZE largest file deleted while open or mapped whose contents\n"
	"                         are sent (K, M: powers of 1024; default 1M, at most 48M)\n"
	"  -e, --external fd:N    fd N is connected to something outside the process: send\n"
	"                         only its number; the receiver hands it one (its\n"
	"                         --inherit-fd N:FD)\n"
	"      --compress CODEC   lz4 or zstd (level 1): compress page records that shrink,\n"
	"                         for slow links (default none; costs CPU on both sides)\n"
	"      --bandwidth RATE   cap the sending rate at RATE bytes/s (K, M, G: powers of\n"
	"                         1024; e.g. 100M), to spare a link others use\n"
	"  -q, --quiet            no progress bar, nor post-copy's line (pages sent,\n"
	"                         faults served/s, MiB/s; none when stderr is not a\n"
	"                         terminal either)\n"
	"  -s, --stats-json FILE  statistics as JSON ('-' = stdout): total, setup and\n"
	"                         downtime (frozen here until running there), expected\n"
	"                         downtime, bytes, pages, each round (pages, bytes,\n"
	"                         duration, dirty rate), the rule that ended pre-copy,\n"
	"                         the destination's build time; post-copy: pages by\n"
	"                         kind (urgent, read-ahead, bulk), faults, latency,\n"
	"                         and their series over time (every 100 ms)\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 when the process runs at the destination and is gone here;\n"
	"1 otherwise, with one line on stderr that says where the process is.\n"
	"\n"
	"Example:\n"
	"  B$ ferry receive --listen :7070 --key-file /etc/ferry/key\n"
	"  A$ ferry send --pid 4242 --to hostb:7070 --key-file /etc/ferry/key\n";

/* The progress line's label: the round, or the frozen last one; a cap
 * that ends the rounds above the downtime limit is said on its own line. */
static char progress_label[160] = "send";
static bool send_hybrid; /* a cap ends the rounds with post-copy, not a longer pause */

static void round_begin(const struct precopy_round *rd, const struct precopy_stats *st, void *arg)
{
	cli_progress_end();
	if (rd) {
		if (rd->round == 1)
			snprintf(progress_label, sizeof(progress_label), "send round 1");
		else
			snprintf(progress_label, sizeof(progress_label), "send round %u (%llu MiB written, %.0f pages/s)",
				 rd->round, (unsigned long long)(rd->dirty_pages * (uint64_t)sysconf(_SC_PAGESIZE) >> 20),
				 rd->dirty_rate);
		return;
	}
	bool to_postcopy = send_hybrid && st->rule != PRECOPY_RULE_DOWNTIME;
	if (to_postcopy) /* hybrid: the rest follows the start */
		snprintf(progress_label, sizeof(progress_label), "send frozen (%s: post-copy follows)",
			 precopy_rule_name(st->rule));
	else
		snprintf(progress_label, sizeof(progress_label), "send frozen (%s, ~%.0f ms)", precopy_rule_name(st->rule),
			 st->expected_downtime_ms);
	if (st->downtime_fits || to_postcopy)
		return;
	if (st->rule == PRECOPY_RULE_NO_PROGRESS)
		fprintf(stderr, "ferry: send: the pages written per round stopped shrinking after %u rounds (the process "
				"writes about as fast as the link carries); the pause will be about %.0f ms, above the limit\n",
			st->nrounds, st->expected_downtime_ms);
	else
		fprintf(stderr, "ferry: send: %s reached after %u round%s; the pause will be about %.0f ms, above the limit\n",
			precopy_rule_name(st->rule), st->nrounds, st->nrounds == 1 ? "" : "s", st->expected_downtime_ms);
}

int cmd_send(int argc, char **argv)
{
	enum { OPT_INSECURE = 1000, OPT_TIMEOUT, OPT_BANDWIDTH, OPT_COMPRESS, OPT_DOWNTIME, OPT_ITERATIONS, OPT_GOAL,
	       OPT_POSTCOPY_AFTER, OPT_GHOST_LIMIT, OPT_NO_URGENT, OPT_NO_READAHEAD, OPT_NO_PUSH, OPT_RETRY_FOR };
	static const struct option opts[] = {
		{"pid", required_argument, 0, 't'},	   {"to", required_argument, 0, 'T'},
		{"key-file", required_argument, 0, 'k'},   {"insecure", no_argument, 0, OPT_INSECURE},
		{"mode", required_argument, 0, 'm'},	   {"timeout", required_argument, 0, OPT_TIMEOUT},
		{"shell-job", no_argument, 0, 'j'},	   {"stats-json", required_argument, 0, 's'},
		{"bandwidth", required_argument, 0, OPT_BANDWIDTH}, {"quiet", no_argument, 0, 'q'},
		{"compress", required_argument, 0, OPT_COMPRESS}, {"ghost-limit", required_argument, 0, OPT_GHOST_LIMIT},		   {"help", no_argument, 0, 'h'},
		{"downtime-limit", required_argument, 0, OPT_DOWNTIME}, {"max-iterations", required_argument, 0, OPT_ITERATIONS},
		{"goal", required_argument, 0, OPT_GOAL},
		{"postcopy-after", required_argument, 0, OPT_POSTCOPY_AFTER},
		{"no-urgent-channel", no_argument, 0, OPT_NO_URGENT}, {"no-read-ahead", no_argument, 0, OPT_NO_READAHEAD},
		{"no-push", no_argument, 0, OPT_NO_PUSH}, {"retry-for", required_argument, 0, OPT_RETRY_FOR},
		{"external", required_argument, 0, 'e'},
		{0}};
	static int *external; /* static: still reachable when a parse error returns */
	struct send_opts o = {.pid = -1, .ghost_limit = CAPTURE_GHOST_LIMIT_DEFAULT, .timeout_ms = CLI_TIMEOUT_DEFAULT_S * 1000, .progress = cli_progress,
			      .progress_arg = progress_label, .postcopy_progress = cli_postcopy_progress,
			      .postcopy_progress_arg = "send post-copy (pages sent)",
			      .precopy = {.downtime_limit_ms = PRECOPY_DOWNTIME_LIMIT_MS_DEFAULT,
					  .max_iterations = PRECOPY_MAX_ITERATIONS_DEFAULT, .goal_pct = -1,
					  .round_begin = round_begin}};
	o.mode = dirty_backend_best() != DIRTY_NONE ? FR_MODE_PRECOPY : FR_MODE_STOP_AND_COPY;
	const char *key_path = NULL, *stats_path = NULL;
	bool insecure = false;
	int c;
	while ((c = getopt_long(argc, argv, "t:T:k:m:je:s:qh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((o.pid = cli_parse_pid(optarg)) < 0) {
				cli_error("send", "invalid pid '%s'", optarg);
				return 1;
			}
			break;
		case 'T': o.to = optarg; break;
		case 'k': key_path = optarg; break;
		case OPT_INSECURE: insecure = true; break;
		case 'm':
			if (strcmp(optarg, "stop-and-copy") == 0) {
				o.mode = FR_MODE_STOP_AND_COPY;
			} else if (strcmp(optarg, "precopy") == 0 || strcmp(optarg, "pre-copy") == 0) {
				o.mode = FR_MODE_PRECOPY;
			} else if (strcmp(optarg, "postcopy") == 0 || strcmp(optarg, "post-copy") == 0) {
				o.mode = FR_MODE_POSTCOPY;
			} else if (strcmp(optarg, "hybrid") == 0) {
				o.mode = FR_MODE_HYBRID;
			} else {
				cli_error("send", "unknown mode '%s' (precopy, stop-and-copy, postcopy, hybrid)", optarg);
				return 1;
			}
			break;
		case OPT_DOWNTIME: {
			double ms;
			if (cli_parse_number(optarg, 0, 3600e3, &ms) < 0) {
				cli_error("send", "--downtime-limit takes milliseconds (0 to 3600000), not '%s'", optarg);
				return 1;
			}
			o.precopy.downtime_limit_ms = ms;
			break;
		}
		case OPT_ITERATIONS: {
			double n;
			if (cli_parse_number(optarg, 1, PRECOPY_MAX_ITERATIONS_MAX, &n) < 0 || n != (uint32_t)n) {
				cli_error("send", "--max-iterations takes a whole number of rounds from 1 to %d, not '%s'",
					  PRECOPY_MAX_ITERATIONS_MAX, optarg);
				return 1;
			}
			o.precopy.max_iterations = (uint32_t)n;
			break;
		}
		case OPT_POSTCOPY_AFTER: {
			double n;
			if (cli_parse_number(optarg, 1, PRECOPY_MAX_ITERATIONS_MAX, &n) < 0 || n != (uint32_t)n) {
				cli_error("send", "--postcopy-after takes a whole number of rounds from 1 to %d, not '%s'",
					  PRECOPY_MAX_ITERATIONS_MAX, optarg);
				return 1;
			}
			o.precopy.postcopy_after = (uint32_t)n;
			break;
		}
		case OPT_NO_URGENT: o.postcopy_flags |= FR_PC_NO_URGENT; break;
		case OPT_NO_READAHEAD: o.postcopy_flags |= FR_PC_NO_READAHEAD; break;
		case OPT_NO_PUSH: o.postcopy_flags |= FR_PC_NO_PUSH; break;
		case OPT_RETRY_FOR: {
			double sec;
			if (cli_parse_number(optarg, 0, FR_RETRY_FOR_MAX_S, &sec) < 0 || sec != (uint32_t)sec) {
				cli_error("send", "--retry-for takes whole seconds from 0 to %d, not '%s'", FR_RETRY_FOR_MAX_S,
					  optarg);
				return 1;
			}
			o.retry_for_s = (uint32_t)sec;
			break;
		}
		case OPT_GOAL: {
			double pct;
			if (cli_parse_number(optarg, 0, 100, &pct) < 0 || pct != (int)pct) {
				cli_error("send", "--goal takes a whole percentage from 0 to 100, not '%s'", optarg);
				return 1;
			}
			o.precopy.goal_pct = (int)pct;
			break;
		}
		case OPT_TIMEOUT:
			if (cli_parse_timeout("send", optarg, &o.timeout_ms) < 0)
				return 1;
			break;
		case 'j': o.shell_job = true; break;
		case OPT_GHOST_LIMIT:
			if (cli_parse_ghost_limit("send", optarg, &o.ghost_limit) < 0)
				return 1;
			break;
		case 'e':
			if (cli_add_external("send", optarg, &external, &o.nexternal) < 0)
				return 1;
			o.external = external;
			break;
		case 's': stats_path = optarg; break;
		case 'q': o.progress = NULL, o.postcopy_progress = NULL; break;
		case OPT_COMPRESS:
			if (fr_compress_parse(optarg, &o.compress) < 0) {
				cli_error("send", "--compress takes lz4, zstd or none, not '%s'", optarg);
				return 1;
			}
			break;
		case OPT_BANDWIDTH:
			if (cli_parse_size(optarg, &o.max_bps) < 0) {
				cli_error("send", "--bandwidth takes bytes per second with an optional K, M or G "
						  "(powers of 1024), e.g. 100M, not '%s'", optarg);
				return 1;
			}
			break;
		case 'h': fputs(help, stdout); return 0;
		default: fputs(help, stderr); return 1;
		}
	}
	if (o.pid < 0 || !o.to) {
		cli_error("send", "--pid and --to are required (see ferry send --help)");
		return 1;
	}
	send_hybrid = o.mode == FR_MODE_HYBRID;
	if (o.precopy.postcopy_after && o.mode != FR_MODE_HYBRID) {
		cli_error("send", "--postcopy-after is for --mode hybrid");
		return 1;
	}
	if ((o.postcopy_flags || o.retry_for_s) && o.mode != FR_MODE_POSTCOPY && o.mode != FR_MODE_HYBRID) {
		cli_error("send", "--no-urgent-channel, --no-read-ahead, --no-push and --retry-for are for --mode "
				  "postcopy or hybrid");
		return 1;
	}
	struct channel_key key;
	if (cli_channel_key("send", key_path, insecure, &key, &o.key) < 0)
		return 1;
	char err[1024] = "";
	static const char *const mode_note[] = {[FR_MODE_STOP_AND_COPY] = " (stop-and-copy)", [FR_MODE_PRECOPY] = "",
						[FR_MODE_POSTCOPY] = " (post-copy)", [FR_MODE_HYBRID] = " (hybrid)"};
	interrupt_catch(); /* Ctrl-C before the switch: the process resumes here */
	struct send_stats st;
	const char *where;
	int r = send_process(&o, &st, &where, err, sizeof(err));
	cli_progress_end();
	if (r == 0 && !(stats_path && strcmp(stats_path, "-") == 0))
		printf("ferry send: pid %d runs on %s as pid %d; paused %.1f ms%s\n", o.pid, st.peer, st.dest_pid,
		       st.t_downtime_ms, mode_note[o.mode]);
	if (r < 0) {
		if (strcmp(where, "held") == 0 || strcmp(where, "absent") == 0)
			cli_error("send", "%s", err);
		else
			cli_error("send", "%s; pid %d %s", err[0] ? err : strerror(-r), o.pid,
				  strcmp(where, "resumed") == 0 ? "was resumed here untouched" : "runs on here untouched");
		precopy_stats_free(&st.precopy);
		postcopy_stats_free(&st.postcopy);
		return 1;
	}
	FILE *sf = cli_open_stats("send", stats_path);
	if (sf) {
		cli_send_stats_write(sf, &o, &st);
		cli_close_stats(sf);
	}
	precopy_stats_free(&st.precopy);
	postcopy_stats_free(&st.postcopy);
	return 0;
}
