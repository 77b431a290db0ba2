/* fd_inotify.c — an inotify instance made again in ferry, each watch on
 * its recorded path with its mask and its recorded watch descriptor. The
 * kernel hands out wds in increasing order from the last one it gave
 * (idr_alloc_cyclic), so the watches are added by ascending wd and, while
 * the kernel's number is below the recorded one, the watch is removed and
 * added again to move on. The IN_IGNORED events those removals queue are
 * read away before the fd goes to the process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "../common/util.h"
#include "fd_kinds.h"

/* Adds and removes allowed to reach one recorded wd: a process that made
 * and dropped watches for long has high numbers; each step costs ~2 µs. */
#define WD_CHASE_MAX (1 << 20)
#define EVENT_BUF_BYTES 4096

static int add_watch(int ifd, const struct fr_file *f, const struct fr_watch *w, char *err, size_t errlen)
{
	for (int step = 0; step < WD_CHASE_MAX; step++) {
		int wd = inotify_add_watch(ifd, w->path, w->mask | IN_DONT_FOLLOW);
		if (wd < 0) {
			int e = neg_errno();
			snprintf(err, errlen, "cannot watch %s again (inotify fd %d, wd %d): %s", w->path, f->fd, w->id,
				 strerror(-e));
			return e;
		}
		if (wd == w->id)
			return 0;
		if (wd > w->id)
			break; /* two recorded watches on one inode, or numbers the kernel has moved past */
		if (inotify_rm_watch(ifd, wd) < 0)
			return neg_errno();
	}
	snprintf(err, errlen, "cannot give the watch on %s its number %d again (inotify fd %d)", w->path, w->id, f->fd);
	return -EINVAL;
}

/* Reads away the IN_IGNORED events of the removed watches. */
static void drain(int ifd)
{
	char buf[EVENT_BUF_BYTES];
	while (read(ifd, buf, sizeof(buf)) > 0)
		;
}

int fd_inotify_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot make inotify fd %d again: %s", f->fd, strerror(-e));
		return e;
	}
	int e = 0;
	for (uint32_t i = 0; e == 0 && i < f->nwatches; i++)
		e = add_watch(ifd, f, &f->watches[i], err, errlen);
	if (e == 0) {
		drain(ifd);
		if (!(f->flags & O_NONBLOCK) && fcntl(ifd, F_SETFL, 0) < 0)
			e = neg_errno();
		if (e < 0)
			snprintf(err, errlen, "cannot restore the flags of inotify fd %d: %s", f->fd, strerror(-e));
	}
	if (e < 0) {
		close(ifd);
		return e;
	}
	*out = ifd;
	return 0;
}
