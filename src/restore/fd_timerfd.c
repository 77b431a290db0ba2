/* fd_timerfd.c — a timerfd made again: same clock and interval, the time
 * that was left counted from now (a timer set with TFD_TIMER_ABSTIME, and
 * TFD_TIMER_CANCEL_ON_SET, is set again with its flags for now + time
 * left: fdinfo recorded what was left, not the date). Expirations the process had
 * not read yet (ticks) come back too: the timer is set to expire at once,
 * ferry waits for that, and TFD_IOC_SET_TICKS sets the count; a periodic
 * timer then runs on from that expiry. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include "../common/util.h"
#include "fd_kinds.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#define NSEC_PER_SEC 1000000000ull
#define EXPIRY_WAIT_MS 1000 /* a timer set 1 ns ahead: anything longer is a broken clock */

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NSEC_PER_SEC), .tv_nsec = (long)(ns % NSEC_PER_SEC)};
}

/* The clock an alarm clock reads (clock_gettime has no alarm clocks). */
static clockid_t readable_clock(int32_t clockid)
{
	if (clockid == CLOCK_REALTIME_ALARM)
		return CLOCK_REALTIME;
	if (clockid == CLOCK_BOOTTIME_ALARM)
		return CLOCK_BOOTTIME;
	return clockid;
}

/* Arms fd for value_ns from now (0: disarmed) with the recorded interval. */
static int arm(int fd, const struct fr_file *f, uint64_t value_ns)
{
	struct itimerspec its = {.it_interval = ts_of(f->timer.interval_ns), .it_value = ts_of(value_ns)};
	int flags = 0;
	if (value_ns && (f->kind_flags & TFD_TIMER_ABSTIME)) {
		struct timespec now;
		if (clock_gettime(readable_clock(f->timer.clockid), &now) < 0)
			return neg_errno();
		its.it_value = ts_of((uint64_t)now.tv_sec * NSEC_PER_SEC + (uint64_t)now.tv_nsec + value_ns);
		flags = (int)f->kind_flags;
	}
	return timerfd_settime(fd, flags, &its, NULL) < 0 ? neg_errno() : 0;
}

/* Unread expirations: expire now, then set the count. */
static int set_ticks(int fd, const struct fr_file *f)
{
	int e = arm(fd, f, 1);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (e == 0 && poll(&p, 1, EXPIRY_WAIT_MS) != 1)
		e = -ETIMEDOUT;
	uint64_t ticks = f->value;
	if (e == 0 && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
		e = neg_errno();
	return e;
}

int fd_timerfd_make(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen)
{
	int fd = timerfd_create(f->timer.clockid, TFD_CLOEXEC);
	int e = fd < 0 ? neg_errno() : 0;
	if (e == 0)
		e = f->value ? set_ticks(fd, f) : arm(fd, f, f->timer.value_ns);
	if (e == 0)
		e = fd_set_nonblock(fd, f, err, errlen);
	if (e < 0) {
		snprintf(err, errlen, "cannot make timerfd %d again (clock %d, %llu ns left, interval %llu ns, %llu "
			 "unread): %s", f->fd, f->timer.clockid, (unsigned long long)f->timer.value_ns,
			 (unsigned long long)f->timer.interval_ns, (unsigned long long)f->value, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out = fd;
	return 0;
}
