/* fd_inotify.c — an inotify instance's watches: wd, mask and the path of
 * the watched inode. fdinfo gives the inode only as a file handle on a
 * device ("inotify wd:1 ino:.. sdev:.. mask:.. ignored_mask:..
 * fhandle-bytes:8 fhandle-type:1 f_handle:..", all hex): the handle is
 * opened with open_by_handle_at on a mount of that device, found in the
 * process's mountinfo, and the path is what the opened fd's link says. A
 * watched inode that no path reaches (deleted) is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define INOTIFY_TAG "inotify wd:"
#define KDEV_MINOR_BITS 20 /* the kernel's internal dev_t, as fdinfo prints sdev */
#define HANDLE_BYTES_MAX 128 /* MAX_HANDLE_SZ */
#define DELETED_SUFFIX " (deleted)"

struct inotify_line {
	int wd;
	unsigned mask, sdev, type, bytes;
	uint8_t handle[HANDLE_BYTES_MAX];
};

static int parse_line(const char *p, struct inotify_line *l)
{
	unsigned long ino;
	unsigned ignored;
	char hex[2 * HANDLE_BYTES_MAX + 1];
	if (sscanf(p, "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x "
		   "f_handle:%256s", (unsigned *)&l->wd, &ino, &l->sdev, &l->mask, &ignored, &l->bytes, &l->type,
		   hex) != 8 || l->bytes > HANDLE_BYTES_MAX || strlen(hex) != 2 * l->bytes)
		return -EINVAL;
	for (unsigned i = 0; i < l->bytes; i++) {
		unsigned byte;
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			return -EINVAL;
		l->handle[i] = (uint8_t)byte;
	}
	return 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		unsigned v;
		if (s[0] == '\\' && sscanf(s + 1, "%3o", &v) == 1) {
			*o++ = (char)v;
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* An fd on a mount of device (maj, min) in pid's mount namespace,
 * preferring one of the whole filesystem (root "/"). */
static int open_mount_of(pid_t pid, unsigned maj, unsigned min)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	int r = read_small_file(path, &text, NULL);
	if (r < 0)
		return r;
	char best[4096] = "";
	bool best_whole = false;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned ma, mi;
		char root[4096], point[4096];
		if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &ma, &mi, root, point) != 4 || ma != maj || mi != min)
			continue;
		if (best[0] && (best_whole || strcmp(root, "/") != 0))
			continue;
		snprintf(best, sizeof(best), "%s", point);
		best_whole = strcmp(root, "/") == 0;
	}
	if (!best[0])
		return -ENOENT;
	unescape(best);
	char full[4200];
	snprintf(full, sizeof(full), "/proc/%d/root%s", pid, best);
	int fd = open(full, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC); /* open_by_handle_at takes no O_PATH fd */
	return fd < 0 ? neg_errno() : fd;
}

/* The path of the inode a watch's file handle names. */
static int handle_path(pid_t pid, const struct inotify_line *l, char **out)
{
	_cleanup_close_ int mnt = open_mount_of(pid, l->sdev >> KDEV_MINOR_BITS, l->sdev & ((1u << KDEV_MINOR_BITS) - 1));
	if (mnt < 0)
		return mnt;
	_cleanup_free_ struct file_handle *fh = malloc(sizeof(*fh) + l->bytes);
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = l->bytes;
	fh->handle_type = (int)l->type;
	memcpy(fh->f_handle, l->handle, l->bytes);
	_cleanup_close_ int fd = open_by_handle_at(mnt, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	char link[64], target[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return neg_errno();
	target[n] = '\0';
	size_t sl = strlen(DELETED_SUFFIX);
	if (target[0] != '/' || ((size_t)n > sl && strcmp(target + n - sl, DELETED_SUFFIX) == 0))
		return -ENOENT;
	*out = strdup(target);
	return *out ? 0 : -ENOMEM;
}

static int parse_watch(pid_t pid, int fd, const char *line, struct fr_watch *w, char *err, size_t errlen)
{
	struct inotify_line l;
	if (parse_line(line, &l) < 0)
		return -EINVAL;
	*w = (struct fr_watch){.id = l.wd, .mask = l.mask};
	int r = handle_path(pid, &l, &w->path);
	if (r < 0) {
		snprintf(err, errlen, "fd %d (inotify) watch %d: no path leads to the watched inode (%s): ferry cannot "
			 "restore it yet", fd, l.wd, strerror(-r));
		return -EOPNOTSUPP;
	}
	return 0;
}

int fd_inotify_describe(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	f->kind = FILE_INOTIFY;
	return fd_read_watches(pid, fd, info, INOTIFY_TAG, parse_watch, f, err, errlen);
}
