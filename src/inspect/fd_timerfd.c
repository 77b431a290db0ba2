/* fd_timerfd.c — a timerfd's clock, settime flags, time left, interval and
 * the expirations not read yet (ticks), from fdinfo. The time left is
 * relative (the kernel prints what remains, also for TFD_TIMER_ABSTIME).
 * A periodic timer that expired and was not read counts only its first
 * expiry (ticks 1, nothing left) until someone reads it or asks its time:
 * timerfd_gettime, on ferry's copy of the fd (pidfd_getfd), brings the
 * count up to date and restarts the timer, as the process's own next read
 * would, and fdinfo is read again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/util.h"
#include "fd_kinds.h"

#define NSEC_PER_SEC 1000000000ull

/* "TAG (sec, nsec)" -> ns */
static bool read_spec(const char *info, const char *tag, uint64_t *ns)
{
	const char *p = strstr(info, tag);
	long long sec, nsec;
	if (!p || sscanf(p + strlen(tag), " (%lld, %lld)", &sec, &nsec) != 2 || sec < 0 || nsec < 0 ||
	    nsec >= (long long)NSEC_PER_SEC || (uint64_t)sec > (uint64_t)INT64_MAX / NSEC_PER_SEC - 1)
		return false;
	*ns = (uint64_t)sec * NSEC_PER_SEC + (uint64_t)nsec;
	return true;
}

/* timerfd_gettime on the process's timer, which counts the expirations of
 * a periodic timer nobody read. */
static int bring_up_to_date(pid_t pid, int fd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return neg_errno();
	_cleanup_close_ int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	struct itimerspec its;
	if (copy < 0 || timerfd_gettime(copy, &its) < 0)
		return neg_errno();
	return 0;
}

static int parse(int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	const char *c = strstr(info, "clockid:"), *t = strstr(info, "ticks:"), *s = strstr(info, "settime flags:");
	int clockid;
	unsigned long long ticks;
	unsigned flags;
	if (!c || !t || !s || sscanf(c, "clockid: %d", &clockid) != 1 || sscanf(t, "ticks: %llu", &ticks) != 1 ||
	    sscanf(s, "settime flags: %o", &flags) != 1 || !read_spec(info, "it_value:", &f->timer.value_ns) ||
	    !read_spec(info, "it_interval:", &f->timer.interval_ns)) {
		snprintf(err, errlen, "cannot read timerfd %d from its fdinfo", fd);
		return -EINVAL;
	}
	f->kind = FILE_TIMERFD;
	f->timer.clockid = clockid;
	f->value = ticks;
	f->kind_flags = flags;
	f->pos = 0;
	return 0;
}

int fd_timerfd_describe(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	int r = parse(fd, info, f, err, errlen);
	if (r < 0 || !f->value || !f->timer.interval_ns)
		return r;
	char path[64];
	_cleanup_free_ char *now = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((r = bring_up_to_date(pid, fd)) < 0 || (r = read_small_file(path, &now, NULL)) < 0) {
		snprintf(err, errlen, "cannot count the expirations of timerfd %d: %s", fd, strerror(-r));
		return r;
	}
	return parse(fd, now, f, err, errlen);
}
