/* files.c — reopening the file of a FILE record, in ferry, before it is
 * passed to the restore stub (identity.c). The record's claim is checked
 * first: the path is looked up with O_PATH (no open of the object itself: a
 * FIFO would block, a device would run its driver's open) and its type must
 * be the recorded one. A regular file, directory or device in the stream
 * that turns out to be a FIFO, socket or another kind of node here is
 * refused with the fd number and path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"
#include "internal.h"

/* Flags that only matter at open time and must not be replayed: creating
 * or truncating a file on restore would change it. */
#define REOPEN_DROP_FLAGS (O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY)

static const char *node_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "FIFO";
	case S_IFSOCK: return "socket";
	case S_IFLNK: return "symbolic link";
	}
	return "node of unknown type";
}

/* Is a node of this mode what a record of this kind claims? */
static bool node_matches(uint32_t kind, mode_t mode)
{
	switch (kind) {
	case FILE_REG: return S_ISREG(mode);
	case FILE_DIR: return S_ISDIR(mode);
	case FILE_CHR: return S_ISCHR(mode);
	case FILE_FIFO: return S_ISFIFO(mode);
	case FILE_PATH: return true; /* an O_PATH fd can name anything and opening it has no effect */
	}
	return false;
}

int file_reopen(const struct fr_file *f, int *out, char *err, size_t errlen)
{
	*out = -1;
	_cleanup_close_ int probe = open(f->path, O_PATH | O_CLOEXEC | ((int)f->flags & O_NOFOLLOW));
	struct stat want, got;
	if (probe < 0 || fstat(probe, &want) < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot reopen fd %d (%s %s): %s", f->fd, fr_file_kind_name(f->kind), f->path,
			 strerror(-e));
		return e;
	}
	if (!node_matches(f->kind, want.st_mode)) {
		snprintf(err, errlen, "cannot reopen fd %d: %s is a %s here, the image recorded a %s", f->fd, f->path,
			 node_name(want.st_mode), fr_file_kind_name(f->kind));
		return -EINVAL;
	}
	int oflags = (int)f->flags & ~REOPEN_DROP_FLAGS;
	/* O_NONBLOCK: if the path was swapped for a FIFO since the check, the
	 * open must not hang; the inode comparison below then refuses it.
	 * O_NOCTTY: ferry opens it, and must not gain a controlling terminal. */
	int fd = open(f->path, oflags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot reopen fd %d (%s %s): %s", f->fd, fr_file_kind_name(f->kind), f->path,
			 strerror(-e));
		return e;
	}
	if (fstat(fd, &got) < 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
		close(fd);
		snprintf(err, errlen, "cannot reopen fd %d: %s changed while it was being opened", f->fd, f->path);
		return -ESTALE;
	}
	if (!(oflags & O_NONBLOCK) && !(oflags & O_PATH) && fcntl(fd, F_SETFL, oflags & ~O_NONBLOCK) < 0) {
		int e = neg_errno();
		close(fd);
		snprintf(err, errlen, "cannot restore the flags of fd %d (%s): %s", f->fd, f->path, strerror(-e));
		return e;
	}
	*out = fd;
	return 0;
}

