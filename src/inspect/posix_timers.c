/* posix_timers.c — the POSIX timers (timer_create) of a frozen process:
 * id, clock and notification from /proc/PID/timers, time left and
 * interval from timer_gettime run inside the process (timer ids are the
 * process's own). The overrun count of a signal not yet delivered is not
 * carried (no call sets it). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "../common/util.h"
#include "capture.h"
#include "rsys.h"

#define NSEC_PER_SEC 1000000000ull
#define TIMER_TAG "ID:"

static int by_id(const void *a, const void *b)
{
	const struct fr_posix_timer *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* One "ID: / signal: / notify: / ClockID:" block. */
static int parse_timer(const char *p, struct fr_posix_timer *t)
{
	int id, signo, clockid, who;
	unsigned long long sigval;
	char how[16], whom[8];
	if (sscanf(p, "ID: %d signal: %d/%llx notify: %15[a-z]/%7[a-z].%d ClockID: %d", &id, &signo, &sigval, how,
		   whom, &who, &clockid) != 7)
		return -EINVAL;
	*t = (struct fr_posix_timer){.id = id, .clockid = clockid, .signo = signo, .sigval = sigval};
	if (strcmp(whom, "tid") == 0) {
		t->notify = SIGEV_THREAD_ID;
		t->tid = who;
	} else if (strcmp(how, "none") == 0) {
		t->notify = SIGEV_NONE;
		t->signo = 0;
		t->sigval = 0;
	} else if (strcmp(how, "signal") == 0) {
		t->notify = SIGEV_SIGNAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* The next "ID:" at the start of a line (not the one in "ClockID:"). */
static const char *next_timer(const char *text, const char *from)
{
	for (const char *p = strstr(from, TIMER_TAG); p; p = strstr(p + 1, TIMER_TAG))
		if (p == text || p[-1] == '\n')
			return p;
	return NULL;
}

static uint64_t ns_of(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

int capture_posix_timers(struct rsys *rs, pid_t pid, struct fr_image *img, char *err, size_t errlen)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	int r = read_small_file(path, &text, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	size_t n = 0;
	for (const char *p = next_timer(text, text); p; p = next_timer(text, p + 1))
		n++;
	if (!n)
		return 0;
	if (!(img->timers = calloc(n, sizeof(*img->timers))))
		return -ENOMEM;
	const char *p = text;
	for (size_t i = 0; i < n; i++) {
		p = next_timer(text, p);
		struct fr_posix_timer *t = &img->timers[i];
		if (parse_timer(p, t) < 0) {
			snprintf(err, errlen, "cannot read POSIX timer %zu of pid %d from %s", i, pid, path);
			return -EINVAL;
		}
		img->ntimers++;
		struct itimerspec its;
		long e = rsys(rs, SYS_timer_gettime, (uint64_t)t->id, rs->scratch, 0, 0, 0, 0);
		if (e == 0)
			e = remote_read(rs->tid, rs->scratch, &its, sizeof(its));
		if (e < 0) {
			snprintf(err, errlen, "cannot read POSIX timer %d of pid %d: %s", t->id, pid, strerror((int)-e));
			return (int)e;
		}
		t->value_ns = ns_of(&its.it_value);
		t->interval_ns = ns_of(&its.it_interval);
		p += strlen(TIMER_TAG);
	}
	qsort(img->timers, img->ntimers, sizeof(*img->timers), by_id);
	return 0;
}
