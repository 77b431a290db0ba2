/* file_locks.c — the locks the process held, taken again by the process
 * itself (remote flock / fcntl in the stub) once its fds are on their
 * numbers and the stub's placeholders are closed (closing any fd of a file
 * drops the process's POSIX locks on it). Each is taken without waiting: a
 * lock someone else took meanwhile fails the restore, naming fd and range. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "../common/log.h"
#include "../inspect/rsys.h"
#include "fd_kinds.h"

static const char *kind_name(uint32_t kind)
{
	return kind == FR_LOCK_FLOCK ? "flock" : kind == FR_LOCK_POSIX ? "POSIX lock" : "OFD lock";
}

static long take(struct stub *s, struct rsys *r, const struct fr_lock *l)
{
	if (l->kind == FR_LOCK_FLOCK)
		return rsys(r, SYS_flock, (uint64_t)l->fd, (l->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB, 0, 0, 0, 0);
	struct flock fl = {.l_type = (short)l->type, .l_whence = SEEK_SET, .l_start = (off_t)l->start,
			   .l_len = (off_t)l->len};
	long e = remote_write(s->pid, s->scratch, &fl, sizeof(fl));
	if (e == 0)
		e = rsys(r, SYS_fcntl, (uint64_t)l->fd, l->kind == FR_LOCK_POSIX ? F_SETLK : F_OFD_SETLK, s->scratch, 0, 0,
			 0);
	return e;
}

int file_locks_apply(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->nlocks; i++) {
		const struct fr_lock *l = &img->locks[i];
		long e = take(s, r, l);
		if (e < 0) {
			uint32_t j = image_file_index(img, img->nfiles, l->fd);
			const char *path = j < img->nfiles && img->files[j].path ? img->files[j].path : "?";
			snprintf(err, errlen, "cannot take the %s %s of fd %d (%s, bytes %llu+%llu) again: %s",
				 l->type == F_WRLCK ? "write" : "read", kind_name(l->kind), l->fd, path,
				 (unsigned long long)l->start, (unsigned long long)l->len,
				 e == -EAGAIN || e == -EWOULDBLOCK ? "another process holds it" : strerror((int)-e));
			return (int)e;
		}
	}
	if (img->nlocks)
		pr_debug("%u file lock(s) taken again", img->nlocks);
	return 0;
}
