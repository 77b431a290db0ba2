/* fd_contents.c — the files whose contents came in the image, made again
 * in ferry: a memfd with its name, size, data and seals, and a file
 * deleted while open ("ghost"), made again in its directory with its mode
 * and data and unlinked at once (under its own name if that is free, else
 * as an O_TMPFILE that never had one). Each is then opened as the process
 * had it (access mode, O_APPEND, O_NONBLOCK: reopened through
 * /proc/self/fd, a new description of the same inode) at its offset. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"
#define MEMFD_NAME_MAX 249 /* NAME_MAX - strlen("memfd:") */
#define REOPEN_FLAGS_MASK (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC)

static int write_contents(int fd, const struct fr_file *f)
{
	if (ftruncate(fd, (off_t)f->value) < 0)
		return neg_errno();
	for (uint32_t i = 0; i < f->nextents; i++) {
		const struct fr_extent *e = &f->extents[i];
		if (pwrite(fd, e->data, e->len, (off_t)e->offset) != (ssize_t)e->len)
			return neg_errno();
	}
	return 0;
}

/* *fd (read-write, made here) becomes the process's open: its access mode
 * and flags, at its offset. */
static int open_as_recorded(int *fd, const struct fr_file *f)
{
	int want = (int)f->flags & REOPEN_FLAGS_MASK;
	if ((want & O_ACCMODE) != O_RDWR || (want & O_APPEND)) {
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", *fd);
		int again = open(self, want | O_CLOEXEC | O_NOCTTY);
		if (again < 0)
			return neg_errno();
		close(*fd);
		*fd = again;
	} else if (want & O_NONBLOCK && fcntl(*fd, F_SETFL, want & ~O_ACCMODE) < 0) {
		return neg_errno();
	}
	if (lseek(*fd, f->pos, SEEK_SET) != f->pos)
		return neg_errno();
	return 0;
}

int fd_memfd_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	char name[MEMFD_NAME_MAX + 1];
	size_t n = strlen(f->path) - strlen(MEMFD_PREFIX) - strlen(DELETED_SUFFIX); /* the codec checked both */
	snprintf(name, sizeof(name), "%.*s", (int)MIN(n, (size_t)MEMFD_NAME_MAX), f->path + strlen(MEMFD_PREFIX));
	/* Without MFD_ALLOW_SEALING a memfd has F_SEAL_SEAL alone. */
	bool sealing = f->kind_flags != F_SEAL_SEAL;
	int fd = memfd_create(name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0));
	int e = fd < 0 ? neg_errno() : write_contents(fd, f);
	if (e == 0 && sealing && f->kind_flags && fcntl(fd, F_ADD_SEALS, (int)f->kind_flags) < 0)
		e = neg_errno();
	if (e == 0)
		e = open_as_recorded(&fd, f);
	if (e < 0) {
		snprintf(err, errlen, "cannot make memfd %d (%s, %llu bytes, seals %#x) again: %s", f->fd, name,
			 (unsigned long long)f->value, f->kind_flags, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

/* A new file in path's directory, unlinked, and whether it ever had path
 * as its name. */
static int make_unlinked(const char *path, mode_t mode, int *fd)
{
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (*fd >= 0) {
		if (unlink(path) < 0) {
			int e = neg_errno();
			close(*fd);
			*fd = -1;
			return e;
		}
		return 0;
	}
	if (errno != EEXIST)
		return neg_errno();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*fd = open(dirname(dir), O_RDWR | O_TMPFILE | O_CLOEXEC, mode); /* the name is someone else's now */
	return *fd < 0 ? neg_errno() : 0;
}

int fd_ghost_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	int fd;
	mode_t mode = (mode_t)f->kind_flags;
	int e = make_unlinked(f->path, mode, &fd);
	if (e == 0)
		e = write_contents(fd, f);
	if (e == 0 && fchmod(fd, mode) < 0) /* the umask took bits away */
		e = neg_errno();
	if (e == 0)
		e = open_as_recorded(&fd, f);
	if (e < 0) {
		snprintf(err, errlen, "cannot make deleted file %d (%s, %llu bytes) again: %s", f->fd, f->path,
			 (unsigned long long)f->value, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out = fd;
	return 0;
}
