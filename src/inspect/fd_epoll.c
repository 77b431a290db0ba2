/* fd_epoll.c — an epoll set's watches: for each, the watched fd's number,
 * its events (with EPOLLET, EPOLLONESHOT; a oneshot watch that fired has
 * none left but its flags) and the user's data, from the "tfd:" lines of
 * fdinfo. The kernel keys a watch by (file, fd number) and lists the number
 * as it was when the watch was added: kcmp(KCMP_EPOLL_TFD) checks that the
 * number still holds that file, since only then can the restore add the
 * watch again through it. */
#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define TFD_TAG "tfd:"

/* Does fd number tfd of pid hold the file epoll fd efd watches as tfd? */
static bool watch_is_current(pid_t pid, int efd, int tfd)
{
	struct kcmp_epoll_slot slot = {.efd = (__u32)efd, .tfd = (__u32)tfd, .toff = 0};
	return syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, tfd, &slot) == 0;
}

static int parse_watch(pid_t pid, int fd, const char *line, struct fr_watch *w, char *err, size_t errlen)
{
	int tfd;
	unsigned events;
	unsigned long long data;
	if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3)
		return -EINVAL;
	if (!watch_is_current(pid, fd, tfd)) {
		snprintf(err, errlen, "fd %d (epoll) watches a file added as fd %d, which that number no longer holds: "
			 "ferry cannot restore it yet", fd, tfd);
		return -EOPNOTSUPP;
	}
	*w = (struct fr_watch){.id = tfd, .mask = events, .data = data};
	return 0;
}

int fd_epoll_describe(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	f->kind = FILE_EPOLL;
	return fd_read_watches(pid, fd, info, TFD_TAG, parse_watch, f, err, errlen);
}

/* Does the fdinfo text of an epoll fd have a watch on fd? */
static bool watches_fd(const char *info, int fd)
{
	for (const char *p = strstr(info, TFD_TAG); p; p = strstr(p + 1, TFD_TAG)) {
		int tfd;
		if (sscanf(p, "tfd: %d", &tfd) == 1 && tfd == fd)
			return true;
	}
	return false;
}

int fd_epoll_watcher_of(pid_t pid, int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int found = -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		int efd = atoi(de->d_name);
		char link[64], target[64];
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, de->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len < 0 || de->d_name[0] == '.' || (found >= 0 && efd > found))
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:[eventpoll]") != 0)
			continue;
		_cleanup_free_ char *info = NULL;
		snprintf(link, sizeof(link), "/proc/%d/fdinfo/%d", pid, efd);
		if (read_small_file(link, &info, NULL) == 0 && watches_fd(info, fd))
			found = efd;
	}
	closedir(d);
	return found;
}
