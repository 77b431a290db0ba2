/* test_codec_timer.c — the POSIX_TIMER record: every field survives a round
 * trip; impossible timers (negative id, unknown clock or notification, a
 * signal out of range or missing, a thread without SIGEV_THREAD_ID or the
 * other way round, times beyond ktime_t) and short or long payloads are
 * refused. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "state/codec.h"

static const struct fr_posix_timer good = {.id = 3, .clockid = CLOCK_MONOTONIC, .notify = SIGEV_THREAD_ID,
					   .signo = 36, .tid = 4243, .sigval = 0xb0b0b0b0deadull,
					   .value_ns = 12345678, .interval_ns = 25000000};

static int round_trip(const struct fr_posix_timer *t, struct fr_posix_timer *out, size_t cut, bool extra)
{
	struct buf b = {0};
	encode_posix_timer(&b, t);
	if (extra)
		buf_put_u32(&b, 0);
	int r = decode_posix_timer(b.data, (uint32_t)(b.len - cut), out);
	buf_free(&b);
	return r;
}

static void test_posix_timer_round_trip(void **state)
{
	(void)state;
	struct fr_posix_timer g;
	assert_int_equal(round_trip(&good, &g, 0, false), 0);
	assert_int_equal(g.id, good.id);
	assert_int_equal(g.clockid, good.clockid);
	assert_int_equal(g.notify, good.notify);
	assert_int_equal(g.signo, good.signo);
	assert_int_equal(g.tid, good.tid);
	assert_true(g.sigval == good.sigval && g.value_ns == good.value_ns && g.interval_ns == good.interval_ns);
	/* a SIGEV_NONE timer on a process CPU clock, disarmed */
	struct fr_posix_timer n = {.id = 0, .clockid = -6, .notify = SIGEV_NONE};
	assert_int_equal(round_trip(&n, &g, 0, false), 0);
	assert_int_equal(g.clockid, -6);
}

static void test_impossible_timers_are_refused(void **state)
{
	(void)state;
	struct fr_posix_timer g, bad[9];
	for (int i = 0; i < 9; i++)
		bad[i] = good;
	bad[0].id = -1;
	bad[1].clockid = 42;
	bad[2].notify = SIGEV_THREAD; /* glibc's; the kernel only ever holds THREAD_ID */
	bad[3].signo = 0;
	bad[4].signo = 65;
	bad[5].tid = 0;                                      /* THREAD_ID without a thread */
	bad[6].notify = SIGEV_SIGNAL;                         /* a thread without THREAD_ID */
	bad[7].value_ns = (uint64_t)INT64_MAX + 1;
	bad[8].notify = SIGEV_NONE, bad[8].tid = 0;          /* SIGEV_NONE with a signal */
	for (int i = 0; i < 9; i++)
		assert_int_equal(round_trip(&bad[i], &g, 0, false), -EBADMSG);
	assert_int_equal(round_trip(&good, &g, 1, false), -EBADMSG);
	assert_int_equal(round_trip(&good, &g, 0, true), -EBADMSG);
	assert_string_equal(codec_why(), "trailing bytes after the payload");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posix_timer_round_trip),
		cmocka_unit_test(test_impossible_timers_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
