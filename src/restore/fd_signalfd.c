/* fd_signalfd.c — a signalfd made again with its mask. It reads the
 * signals of whoever reads it, so making it in ferry is no different from
 * making it in the process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define KERNEL_SIGSET_BYTES 8 /* the kernel's sigset_t: 64 signals */

int fd_signalfd_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	uint64_t mask = f->value;
	long fd = syscall(SYS_signalfd4, -1, &mask, KERNEL_SIGSET_BYTES, SFD_CLOEXEC);
	int e = fd < 0 ? neg_errno() : fd_set_nonblock((int)fd, f, err, errlen);
	if (e < 0) {
		snprintf(err, errlen, "cannot make signalfd %d again (mask %#llx): %s", f->fd, (unsigned long long)mask,
			 strerror(-e));
		if (fd >= 0)
			close((int)fd);
		return e;
	}
	*out = (int)fd;
	return 0;
}
