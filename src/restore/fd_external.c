/* fd_external.c — an fd declared external at dump (--external fd:N: a pipe
 * or socket whose other end is another process's, as a program's stdin in
 * a shell pipeline) gets the fd the user hands ferry at restore with
 * --inherit-fd N:FD, as criu's --inherit-fd: the same open file
 * description. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "fdobj.h"

int fd_external_open(const struct fr_file *f, const struct restore_opts *opts, int *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < opts->ninherit; i++) {
		if (opts->inherit[i].fd != f->fd)
			continue;
		if ((*out = fcntl(opts->inherit[i].from, F_DUPFD_CLOEXEC, 0)) < 0) {
			int e = neg_errno();
			snprintf(err, errlen, "--inherit-fd %d:%d: ferry has no fd %d: %s", f->fd, opts->inherit[i].from,
				 opts->inherit[i].from, strerror(-e));
			return e;
		}
		return 0;
	}
	snprintf(err, errlen, "fd %d (%s) was declared external at dump: hand it one with --inherit-fd %d:FD", f->fd,
		 f->path, f->fd);
	return -ENOENT;
}
