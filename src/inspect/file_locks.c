/* file_locks.c — the locks the process holds on its files, from the "lock:"
 * lines of /proc/PID/fdinfo/FD: the kernel lists there the flock and OFD
 * locks of the fd's open file description and the POSIX locks the process
 * took through it ("lock:\t1: POSIX  ADVISORY  WRITE 4242 fe:00:1234 10 29",
 * end EOF for "to the end"). Dups of a description list the same locks:
 * only the fd that owns the description is read. A lock request the
 * process waits for ("->") is no lock: its syscall runs again on restore.
 * Leases and delegations are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "capture.h"

#define LOCK_TAG "lock:"

static int parse_lock(const char *line, int fd, struct fr_lock *l, bool *skip)
{
	char kind[16], mode[16], type[16], end[24];
	long long start;
	int id;
	*skip = false;
	const char *q = line + strlen(LOCK_TAG);
	int used = 0;
	if (sscanf(q, " %d: %n", &id, &used) == 1 && used && strncmp(q + used, "->", 2) == 0) {
		*skip = true;
		return 0;
	}
	if (sscanf(line, "lock: %d: %15s %15s %15s %*d %*s %lld %23s", &id, kind, mode, type, &start, end) != 6)
		return -EINVAL;
	*l = (struct fr_lock){.fd = fd, .start = (uint64_t)start};
	if (strcmp(kind, "FLOCK") == 0)
		l->kind = FR_LOCK_FLOCK;
	else if (strcmp(kind, "POSIX") == 0)
		l->kind = FR_LOCK_POSIX;
	else if (strcmp(kind, "OFDLCK") == 0)
		l->kind = FR_LOCK_OFD;
	else
		return -EOPNOTSUPP; /* LEASE, DELEG, ... */
	if (strcmp(mode, "ADVISORY") != 0)
		return -EOPNOTSUPP;
	if (strcmp(type, "READ") == 0)
		l->type = F_RDLCK;
	else if (strcmp(type, "WRITE") == 0)
		l->type = F_WRLCK;
	else
		return -EINVAL;
	if (l->kind == FR_LOCK_FLOCK) {
		l->start = 0;
	} else if (strcmp(end, "EOF") != 0) {
		long long last = atoll(end);
		if (last < start)
			return -EINVAL;
		l->len = (uint64_t)(last - start + 1);
	}
	return 0;
}

static int add(struct fr_image *img, const struct fr_lock *l, uint32_t *cap)
{
	if (img->nlocks == FR_MAX_LOCKS)
		return -E2BIG;
	if (img->nlocks == *cap) {
		uint32_t ncap = *cap ? 2 * *cap : 8;
		struct fr_lock *nl = realloc(img->locks, ncap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		img->locks = nl;
		*cap = ncap;
	}
	img->locks[img->nlocks++] = *l;
	return 0;
}

static int locks_of(pid_t pid, int fd, struct fr_image *img, uint32_t *cap, char *err, size_t errlen)
{
	char path[64];
	_cleanup_free_ char *info = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	int r = read_small_file(path, &info, NULL);
	if (r < 0)
		return r == -ENOENT ? 0 : r; /* closed meanwhile */
	for (const char *p = strstr(info, LOCK_TAG); p; p = strstr(p + 1, LOCK_TAG)) {
		struct fr_lock l;
		bool skip;
		r = parse_lock(p, fd, &l, &skip);
		if (r == -EOPNOTSUPP) {
			const char *nl = strchr(p, '\n');
			snprintf(err, errlen, "fd %d holds a lease or mandatory lock (%.*s): ferry cannot restore it yet", fd,
				 (int)(nl ? nl - p : (long)strlen(p)), p);
			return r;
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot read the locks of fd %d from its fdinfo", fd);
			return r;
		}
		if (!skip && (r = add(img, &l, cap)) < 0) {
			if (r == -E2BIG)
				snprintf(err, errlen, "pid %d holds more than %u file locks", pid, FR_MAX_LOCKS);
			return r;
		}
	}
	return 0;
}

int capture_file_locks(pid_t pid, struct fr_image *img, char *err, size_t errlen)
{
	uint32_t cap = 0;
	for (uint32_t i = 0; i < img->nfiles; i++) {
		if (img->files[i].share_of >= 0)
			continue;
		int r = locks_of(pid, img->files[i].fd, img, &cap, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}
