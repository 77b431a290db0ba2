/* codec_timer.c — the POSIX_TIMER record: one timer_create timer with its
 * id, clock, notification (signal, thread, none), value, time left and
 * interval. Wire order: id, clockid, notify, signo, tid, sigval, value_ns,
 * interval_ns. */
#include "codec_internal.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

#define NSEC_MAX ((uint64_t)INT64_MAX)
#ifndef CLOCK_TAI
#define CLOCK_TAI 11
#endif

static bool timer_clock(int32_t c)
{
	switch (c) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_PROCESS_CPUTIME_ID:
	case CLOCK_THREAD_CPUTIME_ID:
	case CLOCK_BOOTTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
	case CLOCK_TAI:
		return true;
	}
	return c < 0; /* the CPU clock of a process or thread (clock_getcpuclockid) */
}

void encode_posix_timer(struct buf *b, const struct fr_posix_timer *t)
{
	const uint32_t w[] = {(uint32_t)t->id, (uint32_t)t->clockid, (uint32_t)t->notify, (uint32_t)t->signo,
			      (uint32_t)t->tid};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		buf_put_u32(b, w[i]);
	buf_put_u64(b, t->sigval);
	buf_put_u64(b, t->value_ns);
	buf_put_u64(b, t->interval_ns);
}

int decode_posix_timer(const uint8_t *data, uint32_t len, struct fr_posix_timer *t)
{
	struct buf_reader r = buf_reader(data, len);
	t->id = (int32_t)buf_get_u32(&r);
	t->clockid = (int32_t)buf_get_u32(&r);
	t->notify = (int32_t)buf_get_u32(&r);
	t->signo = (int32_t)buf_get_u32(&r);
	t->tid = (int32_t)buf_get_u32(&r);
	t->sigval = buf_get_u64(&r);
	t->value_ns = buf_get_u64(&r);
	t->interval_ns = buf_get_u64(&r);
	if (codec_finish(&r) < 0)
		return -EBADMSG;
	if (t->id < 0)
		return codec_refuse("posix timer id (negative)");
	if (!timer_clock(t->clockid))
		return codec_refuse("posix timer clockid");
	if (t->notify != SIGEV_SIGNAL && t->notify != SIGEV_NONE && t->notify != SIGEV_THREAD_ID)
		return codec_refuse("posix timer notify");
	if (t->notify == SIGEV_NONE ? t->signo != 0 : (t->signo < 1 || t->signo > FR_NSIG))
		return codec_refuse("posix timer signo");
	if ((t->notify == SIGEV_THREAD_ID) != (t->tid > 0) || t->tid < 0)
		return codec_refuse("posix timer tid (only and always for SIGEV_THREAD_ID)");
	if (t->value_ns > NSEC_MAX || t->interval_ns > NSEC_MAX)
		return codec_refuse("posix timer (time left or interval out of range)");
	return 0;
}
