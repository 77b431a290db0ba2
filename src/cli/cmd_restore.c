/* cmd_restore.c — `ferry restore --dir DIR`: recreate a process from DIR/image.ferry. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "../restore/restore.h"
#include "cli.h"

static const char help[] =
	"Usage: ferry restore --dir DIR [--detach] [--shell-job] [--pidfile FILE] [--stats FILE]\n"
	"\n"
	"Recreates the process saved in DIR/" IMAGE_FILE " with its original pid and\n"
	"thread ids (in ferry's pid namespace), memory, registers, signal state, files\n"
	"and credentials, and lets it run. Without --detach ferry waits for it and exits\n"
	"with its exit status (128+N if a signal N killed it), like `criu restore`.\n"
	"A taken pid, a truncated or corrupted image, a wrong format version or a missing\n"
	"file fails with one line on stderr and leaves nothing behind.\n"
	"\n"
	"  -D, --dir DIR        image directory written by `ferry dump`\n"
	"  -d, --detach         return once the process runs (it is reparented to init)\n"
	"  -j, --shell-job      reattach saved terminal fds to ferry's own terminal\n"
	"  -p, --pidfile FILE   write the restored pid to FILE\n"
	"  -s, --stats FILE     write statistics as JSON to FILE ('-' = stdout)\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: without --detach, the restored process's own exit status\n"
	"(128+N if signal N killed it); with --detach, 0 once it runs. 1 if the\n"
	"restore fails, with one line `ferry: restore: ...` on stderr.\n";

/* A test knob, not a user option: FERRY_RESTORE_NO_UFFD=1 makes the restore
 * write pages with process_vm_writev as it does where no userfaultfd can be
 * had, so the fallback path stays tested on machines that have one. */
#define ENV_NO_UFFD "FERRY_RESTORE_NO_UFFD"

static void write_stats(FILE *f, pid_t pid, const struct restore_stats *st)
{
	fprintf(f, "{\"command\":\"restore\",\"pid\":%d,", pid);
	restore_stats_json(f, st);
	fputs("}\n", f);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, 0, 'D'},   {"detach", no_argument, 0, 'd'},
		{"shell-job", no_argument, 0, 'j'},   {"pidfile", required_argument, 0, 'p'},
		{"stats", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
		{0}};
	struct restore_opts o = {0};
	const char *no_uffd = getenv(ENV_NO_UFFD);
	o.no_uffd = no_uffd && strcmp(no_uffd, "1") == 0;
	const char *dir = NULL, *pidfile = NULL, *stats_path = NULL;
	bool detach = false;
	int c;
	while ((c = getopt_long(argc, argv, "D:djp:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D': dir = optarg; break;
		case 'd': detach = true; break;
		case 'j': o.shell_job = true; break;
		case 'p': pidfile = optarg; break;
		case 's': stats_path = optarg; break;
		case 'h': fputs(help, stdout); return 0;
		default: fputs(help, stderr); return 1;
		}
	}
	if (!dir) {
		cli_error("restore", "--dir is required (see ferry restore --help)");
		return 1;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, IMAGE_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("restore", "cannot open %s: %m", path);
		return 1;
	}
	struct fr_stream s;
	stream_init(&s, fd);
	struct restore_stats st;
	char err[512] = "";
	pid_t pid = -1;
	int r = restore_from_stream(&s, &o, &pid, &st, err, sizeof(err));
	stream_release(&s);
	close(fd);
	if (r < 0) {
		cli_error("restore", "%s", err[0] ? err : strerror(-r));
		return 1;
	}
	if (pidfile) {
		FILE *pf = fopen(pidfile, "we");
		if (pf) {
			fprintf(pf, "%d\n", pid);
			fclose(pf);
		} else {
			cli_error("restore", "cannot write pid file %s: %m (pid %d is running)", pidfile, pid);
		}
	}
	FILE *sf = cli_open_stats("restore", stats_path);
	if (sf) {
		write_stats(sf, pid, &st);
		cli_close_stats(sf);
	}
	if (detach)
		return 0;
	signal(SIGINT, SIG_IGN); /* the restored process gets the terminal's signals, ferry waits */
	signal(SIGQUIT, SIG_IGN);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			cli_error("restore", "cannot wait for pid %d: %m", pid);
			return 1;
		}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
