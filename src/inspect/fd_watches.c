/* fd_watches.c — the walk shared by the kinds whose fdinfo lists watches,
 * one per line (epoll's "tfd:", inotify's "inotify wd:"): count them, cap
 * them, let the kind read each line, sort them by id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_kinds.h"

static int by_id(const void *a, const void *b)
{
	const struct fr_watch *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

int fd_read_watches(pid_t pid, int fd, const char *info, const char *tag, fd_watch_parse_fn *parse, struct fr_file *f,
		    char *err, size_t errlen)
{
	size_t n = 0;
	for (const char *p = strstr(info, tag); p; p = strstr(p + 1, tag))
		n++;
	f->pos = 0;
	if (n > FR_MAX_WATCHES) {
		snprintf(err, errlen, "fd %d (%s) has %zu watches; ferry keeps at most %u", fd, fr_file_kind_name(f->kind),
			 n, FR_MAX_WATCHES);
		return -E2BIG;
	}
	if (n && !(f->watches = calloc(n, sizeof(*f->watches))))
		return -ENOMEM;
	const char *p = info;
	for (size_t i = 0; i < n; i++, p += strlen(tag)) {
		p = strstr(p, tag);
		int r = parse(pid, fd, p, &f->watches[i], err, errlen);
		if (r == -EINVAL)
			snprintf(err, errlen, "cannot read watch %zu of %s fd %d from its fdinfo", i,
				 fr_file_kind_name(f->kind), fd);
		if (r < 0)
			return r;
		f->nwatches++;
	}
	qsort(f->watches, f->nwatches, sizeof(*f->watches), by_id);
	return 0;
}
