/* fd_contents.c — the files whose contents travel in the image: a memfd
 * (name, size, seals, data) and a regular file deleted while open (a
 * "ghost": path, mode, size, data, if it is no larger than --ghost-limit).
 * The data is read through /proc/PID/fd/N, which opens the same inode
 * (gone from every directory); only the ranges SEEK_DATA finds are kept,
 * so a large sparse memfd costs what it holds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define EXTENT_MAX (1u << 20) /* data read into one extent at most */
#define STAT_BLOCK_BYTES 512  /* the unit of st_blocks */
#define DELETED_SUFFIX " (deleted)"
#define MEMFD_PREFIX "/memfd:"

static int add_extent(int file, struct fr_file *f, uint64_t off, uint32_t len, size_t *cap)
{
	if (f->nextents == *cap) {
		size_t ncap = *cap ? 2 * *cap : 8;
		struct fr_extent *ne = realloc(f->extents, ncap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		f->extents = ne;
		*cap = ncap;
	}
	uint8_t *data = malloc(len);
	if (!data)
		return -ENOMEM;
	ssize_t got = pread(file, data, len, (off_t)off);
	if (got <= 0) {
		free(data);
		return got < 0 ? neg_errno() : 0; /* shrunk meanwhile */
	}
	f->extents[f->nextents++] = (struct fr_extent){.offset = off, .len = (uint32_t)got, .data = data};
	return 0;
}

/* Every data range of file, in extents of at most EXTENT_MAX; -EFBIG past
 * FR_CONTENTS_MAX bytes of data. */
static int read_contents(int file, uint64_t size, struct fr_file *f)
{
	size_t cap = 0, total = 0;
	off_t pos = 0;
	while ((uint64_t)pos < size) {
		off_t data = lseek(file, pos, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : neg_errno();
		off_t hole = lseek(file, data, SEEK_HOLE);
		if (hole < 0)
			return neg_errno();
		for (off_t at = data; at < hole;) {
			uint32_t len = (uint32_t)MIN((uint64_t)(hole - at), (uint64_t)EXTENT_MAX);
			if ((total += len) > FR_CONTENTS_MAX)
				return -EFBIG;
			int r = add_extent(file, f, (uint64_t)at, len, &cap);
			if (r < 0)
				return r;
			at += len;
		}
		pos = hole;
	}
	return 0;
}

/* Opens what path (/proc/PID/fd/N or /proc/PID/map_files/A-B) leads to:
 * the same inode, gone from every directory. */
static int open_inode(const char *path, struct stat *st)
{
	int file = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (file >= 0 && fstat(file, st) < 0) {
		int e = neg_errno();
		close(file);
		return e;
	}
	return file < 0 ? neg_errno() : file;
}

/* what names the holder in messages ("fd 3", "mapping 7f00-7f10"), link
 * the object as /proc shows it. */
static int memfd_describe(const char *path, const char *what, const char *link, bool with_data, struct fr_file *f,
			  char *err, size_t errlen)
{
	struct stat st;
	_cleanup_close_ int file = open_inode(path, &st);
	if (file < 0) {
		snprintf(err, errlen, "cannot open the memfd of %s (%s): %s", what, link, strerror(-file));
		return file;
	}
	int seals = fcntl(file, F_GET_SEALS);
	if (!S_ISREG(st.st_mode) || seals < 0) {
		snprintf(err, errlen, "%s (%s) is a memfd ferry cannot read the seals of (hugetlb?): ferry cannot "
			 "restore it yet", what, link);
		return -EOPNOTSUPP;
	}
	f->kind = FILE_MEMFD;
	f->value = (uint64_t)st.st_size;
	f->kind_flags = (uint32_t)seals;
	/* without the data, what tmpfs has allocated for it tells */
	int r = with_data ? read_contents(file, (uint64_t)st.st_size, f)
			  : (uint64_t)st.st_blocks * STAT_BLOCK_BYTES > FR_CONTENTS_MAX ? -EFBIG : 0;
	if (r == -EFBIG) {
		snprintf(err, errlen, "%s (%s) is a memfd with more than %u MiB of data: ferry cannot restore it yet",
			 what, link, FR_CONTENTS_MAX >> 20);
		return -EOPNOTSUPP;
	}
	if (r < 0)
		snprintf(err, errlen, "cannot read the memfd of %s (%s): %s", what, link, strerror(-r));
	return r;
}

static int ghost_describe(const char *path, const char *what, const char *link, uint64_t limit, bool with_data,
			  struct fr_file *f, char *err, size_t errlen)
{
	struct stat st;
	_cleanup_close_ int file = open_inode(path, &st);
	if (file < 0) {
		snprintf(err, errlen, "cannot open the deleted file of %s (%s): %s", what, link, strerror(-file));
		return file;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s (%s) is a deleted %s: ferry cannot restore it yet", what, link,
			 S_ISDIR(st.st_mode) ? "directory" : "special file");
		return -EOPNOTSUPP;
	}
	if ((uint64_t)st.st_size > limit) {
		snprintf(err, errlen, "%s (%s) is a deleted file of %lld bytes, above --ghost-limit (%llu bytes)", what,
			 link, (long long)st.st_size, (unsigned long long)limit);
		return -EOPNOTSUPP;
	}
	f->kind = FILE_GHOST;
	f->value = (uint64_t)st.st_size;
	f->kind_flags = (uint32_t)(st.st_mode & 07777);
	int r = with_data ? read_contents(file, (uint64_t)st.st_size, f) : 0;
	if (r < 0) {
		snprintf(err, errlen, "cannot read the deleted file of %s (%s): %s", what, link, strerror(-r));
		return r;
	}
	size_t n = strlen(link) - strlen(DELETED_SUFFIX); /* the caller saw the suffix */
	f->path = strndup(link, n);
	return f->path ? 0 : -ENOMEM;
}

int fd_memfd_describe(pid_t pid, int fd, const char *link, bool with_data, struct fr_file *f, char *err,
		      size_t errlen)
{
	char path[64], what[32];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	snprintf(what, sizeof(what), "fd %d", fd);
	return memfd_describe(path, what, link, with_data, f, err, errlen);
}

int fd_ghost_describe(pid_t pid, int fd, const char *link, uint64_t limit, bool with_data, struct fr_file *f,
		      char *err, size_t errlen)
{
	char path[64], what[32];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	snprintf(what, sizeof(what), "fd %d", fd);
	return ghost_describe(path, what, link, limit, with_data, f, err, errlen);
}

int mapped_object_describe(pid_t pid, const struct fr_vma *v, uint64_t limit, bool with_data, struct fr_file *f,
			   char *err, size_t errlen)
{
	char path[96], what[64];
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
	snprintf(what, sizeof(what), "mapping %llx-%llx", (unsigned long long)v->start, (unsigned long long)v->end);
	if (strncmp(v->path, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) == 0) {
		int r = memfd_describe(path, what, v->path, with_data, f, err, errlen);
		if (r == 0 && !(f->path = strdup(v->path)))
			r = -ENOMEM;
		return r;
	}
	return ghost_describe(path, what, v->path, limit, with_data, f, err, errlen);
}
