/* posix_timers.c — the process's POSIX timers made again inside the stub by
 * remote syscalls, once its threads exist (a SIGEV_THREAD_ID timer names
 * one): each with its id, clock and notification. Where the kernel has
 * PR_TIMER_CREATE_RESTORE_IDS (6.15+), timer_create takes the recorded id;
 * elsewhere ids come in increasing order, so timers are made by ascending id
 * and one that gets a lower number is deleted and made again (as criu
 * does). They are armed last, with the time that was left, so the time
 * between dump and restore does not count. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "../common/compat.h"
#include "../common/log.h"
#include "../inspect/rsys.h"
#include "internal.h"

#define NSEC_PER_SEC 1000000000ull
/* Timers made and deleted to reach one id without RESTORE_IDS: each costs
 * two remote calls (~0.4 ms). */
#define ID_CHASE_MAX 4096
/* A test knob, not a user option: FERRY_RESTORE_NO_TIMER_IDS=1 makes the
 * restore chase ids as on a kernel without PR_TIMER_CREATE_RESTORE_IDS, so
 * that path stays tested where the kernel has it. */
#define ENV_NO_TIMER_IDS "FERRY_RESTORE_NO_TIMER_IDS"

/* What timer_create reads and fills, in the scratch area. */
struct create_area {
	struct sigevent sev;
	int id;
};

static bool has_thread(const struct fr_image *img, int32_t tid)
{
	for (uint32_t i = 0; i < img->nthreads; i++)
		if (img->threads[i].tid == tid)
			return true;
	return false;
}

/* timer_create with *id preset to want (the kernel uses it in restore mode,
 * ignores it otherwise); the id it got. */
static long create_one(struct stub *s, struct rsys *rs, const struct fr_posix_timer *t, int want, int *got)
{
	struct create_area a;
	memset(&a, 0, sizeof(a));
	a.sev.sigev_notify = t->notify;
	a.sev.sigev_signo = t->signo;
	a.sev.sigev_value.sival_ptr = (void *)(uintptr_t)t->sigval;
	a.sev._sigev_un._tid = t->tid;
	a.id = want;
	long e = remote_write(s->pid, s->scratch, &a, sizeof(a));
	if (e == 0)
		e = rsys(rs, SYS_timer_create, (uint64_t)t->clockid, s->scratch, s->scratch + offsetof(struct create_area, id),
			 0, 0, 0);
	if (e == 0)
		e = remote_read(s->pid, s->scratch + offsetof(struct create_area, id), got, sizeof(*got));
	return e;
}

/* Without restore mode: made again until it gets its number. */
static long chase_id(struct stub *s, struct rsys *rs, const struct fr_posix_timer *t)
{
	for (int step = 0; step < ID_CHASE_MAX; step++) {
		int got = -1;
		long e = create_one(s, rs, t, -1, &got);
		if (e < 0 || got == t->id)
			return e;
		if (got > t->id)
			return -EEXIST;
		if ((e = rsys(rs, SYS_timer_delete, (uint64_t)got, 0, 0, 0, 0, 0)) < 0)
			return e;
	}
	return -EEXIST;
}

int posix_timers_create(struct stub *s, struct rsys *rs, const struct fr_image *img, char *err, size_t errlen)
{
	if (!img->ntimers)
		return 0;
	const char *knob = getenv(ENV_NO_TIMER_IDS);
	long on = knob && strcmp(knob, "1") == 0
			  ? -EINVAL
			  : rsys(rs, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0);
	pr_debug("%u POSIX timer(s), ids %s", img->ntimers, on == 0 ? "given (PR_TIMER_CREATE_RESTORE_IDS)" : "chased");
	long e = 0;
	for (uint32_t i = 0; e >= 0 && i < img->ntimers; i++) {
		const struct fr_posix_timer *t = &img->timers[i];
		if (t->notify == SIGEV_THREAD_ID && !has_thread(img, t->tid)) {
			snprintf(err, errlen, "POSIX timer %d signals thread %d, which the image does not have", t->id,
				 t->tid);
			return -EINVAL;
		}
		int got = -1;
		e = on == 0 ? create_one(s, rs, t, t->id, &got) : chase_id(s, rs, t);
		if (e == 0 && on == 0 && got != t->id)
			e = -EEXIST;
		if (e < 0)
			snprintf(err, errlen, "cannot make POSIX timer %d (clock %d) again: %s", t->id, t->clockid,
				 strerror((int)-e));
	}
	if (on == 0) {
		long off = rsys(rs, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0);
		if (e >= 0 && off < 0) {
			e = off;
			snprintf(err, errlen, "cannot leave PR_TIMER_CREATE_RESTORE_IDS: %s", strerror((int)-e));
		}
	}
	return (int)(e < 0 ? e : 0);
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NSEC_PER_SEC), .tv_nsec = (long)(ns % NSEC_PER_SEC)};
}

int posix_timers_arm(struct stub *s, struct rsys *rs, const struct fr_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->ntimers; i++) {
		const struct fr_posix_timer *t = &img->timers[i];
		if (!t->value_ns)
			continue; /* disarmed, as it was made */
		struct itimerspec its = {.it_interval = ts_of(t->interval_ns), .it_value = ts_of(t->value_ns)};
		long e = remote_write(s->pid, s->scratch, &its, sizeof(its));
		if (e == 0)
			e = rsys(rs, SYS_timer_settime, (uint64_t)t->id, 0, s->scratch, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot arm POSIX timer %d again: %s", t->id, strerror((int)-e));
			return (int)e;
		}
	}
	return 0;
}
