/* fd_signalfd.c — a signalfd's mask, from fdinfo ("sigmask:", the signals
 * it accepts as a 64-bit hex number, bit sig-1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fd_kinds.h"

int fd_signalfd_describe(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	const char *m = strstr(info, "sigmask:");
	unsigned long long mask;
	if (!m || sscanf(m, "sigmask: %llx", &mask) != 1) {
		snprintf(err, errlen, "cannot read the mask of signalfd %d from its fdinfo", fd);
		return -EINVAL;
	}
	f->kind = FILE_SIGNALFD;
	f->value = mask;
	f->pos = 0;
	return 0;
}
