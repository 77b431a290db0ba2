/* cmd_dump.c — `ferry dump --pid PID --dir DIR`: checkpoint into DIR/image.ferry. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "../inspect/capture.h"
#include "../migrate/dump.h"
#include "cli.h"
#include "fdopts.h"

static const char help[] =
	"Usage: ferry dump --pid PID --dir DIR [--leave-running] [--shell-job] [--ghost-limit SIZE]\n"
	"                  [--external fd:N]... [--stats FILE]\n"
	"\n"
	"Freezes every thread of process PID, writes its complete state (identity,\n"
	"threads with registers and FPU/AVX state, signal state, memory layout and\n"
	"contents, open files) to DIR/" IMAGE_FILE " as a checksummed ferry stream, then\n"
	"kills it, as `criu dump` does. Nothing is changed if the dump fails: the process\n"
	"resumes untouched and ferry says why. Fds, mappings or processes ferry cannot\n"
	"restore yet (a pipe or socket whose other end is another process's, a TCP\n"
	"connection, shared memory with other processes, io_uring, children, group or\n"
	"session members, vfork) stop the dump before the process is even paused,\n"
	"naming the fd, address range or process.\n"
	"\n"
	"  -t, --pid PID        process to checkpoint (its threads come along)\n"
	"  -D, --dir DIR        image directory (created if missing)\n"
	"  -R, --leave-running  let the process run on after the dump\n"
	"  -j, --shell-job      allow terminal fds (restore reattaches them to ferry's terminal)\n"
	"  -g, --ghost-limit SIZE  largest file deleted while open or mapped whose contents\n"
	"                       go into the image (K, M: powers of 1024; default 1M, at most 48M)\n"
	"  -e, --external fd:N  fd N is connected to something outside the process (a pipe\n"
	"                       of the shell pipeline it runs in): record only its number;\n"
	"                       restore must hand it one with --inherit-fd N:FD\n"
	"  -s, --stats FILE     write statistics as JSON to FILE ('-' = stdout)\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 when the image is complete (the process is gone, or runs on\n"
	"with --leave-running); 1 otherwise, with one line `ferry: dump: ...` on\n"
	"stderr, and the process runs on untouched.\n";

static void write_stats(FILE *f, const struct dump_stats *st)
{
	double secs = st->t_pages_ms / 1e3;
	fprintf(f,
		"{\"command\":\"dump\",\"precheck_ms\":%.3f,\"frozen_ms\":%.3f,\"freeze_ms\":%.3f,\"capture_ms\":%.3f,\"pages_ms\":%.3f,"
		"\"threads\":%u,\"vmas\":%u,\"files\":%u,\"pages_present\":%llu,\"pages_sent\":%llu,"
		"\"pages_zero\":%llu,\"page_records\":%llu,\"page_bytes\":%llu,\"stream_bytes\":%llu,"
		"\"page_gbps\":%.3f}\n",
		st->t_precheck_ms, st->t_total_ms, st->t_freeze_ms, st->t_capture_ms, st->t_pages_ms, st->threads, st->vmas, st->files,
		(unsigned long long)st->pages.pages_present, (unsigned long long)st->pages.pages_sent,
		(unsigned long long)st->pages.pages_zero, (unsigned long long)st->pages.records,
		(unsigned long long)st->pages.bytes, (unsigned long long)st->stream_bytes,
		secs > 0 ? (double)st->pages.bytes / secs / 1e9 : 0.0);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, 0, 't'},   {"dir", required_argument, 0, 'D'},
		{"leave-running", no_argument, 0, 'R'}, {"shell-job", no_argument, 0, 'j'},
		{"stats", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
		{"ghost-limit", required_argument, 0, 'g'}, {"external", required_argument, 0, 'e'}, {0}};
	static int *external; /* static: still reachable when a parse error returns */
	struct dump_opts o = {.pid = -1, .ghost_limit = CAPTURE_GHOST_LIMIT_DEFAULT, .progress = cli_progress,
			      .progress_arg = "dump"};
	const char *dir = NULL, *stats_path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "t:D:Rjg:e:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((o.pid = cli_parse_pid(optarg)) < 0) {
				cli_error("dump", "invalid pid '%s'", optarg);
				return 1;
			}
			break;
		case 'D': dir = optarg; break;
		case 'R': o.leave_running = true; break;
		case 'j': o.shell_job = true; break;
		case 'g':
			if (cli_parse_ghost_limit("dump", optarg, &o.ghost_limit) < 0)
				return 1;
			break;
		case 'e':
			if (cli_add_external("dump", optarg, &external, &o.nexternal) < 0)
				return 1;
			o.external = external;
			break;
		case 's': stats_path = optarg; break;
		case 'h': fputs(help, stdout); return 0;
		default: fputs(help, stderr); return 1;
		}
	}
	if (o.pid < 0 || !dir) {
		cli_error("dump", "--pid and --dir are required (see ferry dump --help)");
		return 1;
	}
	bool made_dir = mkdir(dir, 0700) == 0;
	if (!made_dir && errno != EEXIST) {
		cli_error("dump", "cannot create %s: %m", dir);
		return 1;
	}
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, IMAGE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.partial", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		cli_error("dump", "cannot create %s: %m", tmp);
		return 1;
	}
	struct fr_stream s;
	stream_init(&s, fd);
	interrupt_catch(); /* from here on a signal ends the dump with the process thawed */
	struct dump_stats st;
	struct dump_session *session;
	char err[512] = "";
	int r = dump_to_stream(&o, &s, &st, &session, err, sizeof(err));
	cli_progress_end();
	if (r == 0 && close(fd) < 0) {
		snprintf(err, sizeof(err), "cannot write %s: %m", tmp);
		r = -EIO;
	} else if (r < 0) {
		close(fd);
	}
	if (r == 0 && rename(tmp, path) < 0) {
		snprintf(err, sizeof(err), "cannot rename %s: %m", tmp);
		r = -EIO;
	}
	if (r < 0) {
		dump_finish(session, false); /* a no-op if dump_to_stream already thawed */
		unlink(tmp);
		if (made_dir)
			rmdir(dir);
		cli_error("dump", "%s%s", err[0] ? err : strerror(-r),
			  r == -EINTR ? "; the process was resumed untouched" : "");
		return 1;
	}
	stall_point("written"); /* the image is safe, the process still frozen */
	dump_finish(session, true);
	FILE *sf = cli_open_stats("dump", stats_path);
	if (sf) {
		write_stats(sf, &st);
		cli_close_stats(sf);
	}
	return 0;
}
