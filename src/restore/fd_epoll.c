/* fd_epoll.c — an epoll set made again: created empty in ferry, passed to
 * the stub like any fd, then filled by remote epoll_ctl(EPOLL_CTL_ADD) once
 * every fd of the process is on its number (identity.c): a watch belongs to
 * the pair (file, fd number), and the process's later EPOLL_CTL_MOD/DEL
 * name its own numbers. Events and data are the recorded ones, EPOLLET and
 * EPOLLONESHOT included (a oneshot watch that fired comes back disarmed, as
 * it was). A level-triggered watch reports its fd's readiness again at
 * once; an edge-triggered one whose fd is ready gets one edge, as after any
 * EPOLL_CTL_ADD. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "../common/log.h"
#include "../common/util.h"
#include "fd_kinds.h"

int fd_epoll_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->nwatches; i++) {
		int32_t tfd = f->watches[i].id;
		uint32_t j = image_file_index(img, img->nfiles, tfd);
		if (j == img->nfiles || img->files[j].fd != tfd || tfd == f->fd) {
			snprintf(err, errlen, "epoll fd %d watches fd %d, which the image does not have", f->fd, tfd);
			return -EINVAL;
		}
	}
	int fd = epoll_create1(EPOLL_CLOEXEC);
	int e = fd < 0 ? neg_errno() : fd_set_nonblock(fd, f, err, errlen);
	if (e < 0) {
		snprintf(err, errlen, "cannot make epoll fd %d again: %s", f->fd, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

/* The watches of one epoll record, as many events at a time as the scratch
 * area holds. */
static int add_watches(struct stub *s, struct rsys *r, const struct fr_file *f, char *err, size_t errlen)
{
	size_t per = s->scratch_len / sizeof(struct epoll_event);
	struct epoll_event ev[64];
	per = MIN(per, ARRAY_SIZE(ev));
	for (uint32_t done = 0; done < f->nwatches;) {
		size_t n = MIN(per, (size_t)(f->nwatches - done));
		for (size_t i = 0; i < n; i++)
			ev[i] = (struct epoll_event){.events = f->watches[done + i].mask, .data.u64 = f->watches[done + i].data};
		int e = remote_write(s->pid, s->scratch, ev, n * sizeof(ev[0]));
		for (size_t i = 0; e == 0 && i < n; i++) {
			const struct fr_watch *w = &f->watches[done + i];
			long c = rsys(r, SYS_epoll_ctl, (uint64_t)f->fd, EPOLL_CTL_ADD, (uint64_t)w->id,
				      s->scratch + i * sizeof(ev[0]), 0, 0);
			if (c < 0) {
				snprintf(err, errlen, "cannot add fd %d (events %#x) to epoll fd %d again: %s", w->id,
					 w->mask, f->fd, strerror((int)-c));
				return (int)c;
			}
		}
		if (e < 0) {
			snprintf(err, errlen, "cannot fill epoll fd %d: %s", f->fd, strerror(-e));
			return e;
		}
		done += (uint32_t)n;
	}
	return 0;
}

int fd_epoll_add_watches(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	uint32_t total = 0;
	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct fr_file *f = &img->files[i];
		if (f->kind != FILE_EPOLL || f->share_of >= 0)
			continue;
		int e = add_watches(s, r, f, err, errlen);
		if (e < 0)
			return e;
		total += f->nwatches;
	}
	if (total)
		pr_debug("%u epoll watch(es) added again", total);
	return 0;
}
