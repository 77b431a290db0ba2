/* test_codec_lock.c — the FILE_LOCK record: flock, POSIX and OFD locks
 * survive a round trip; a negative fd, unknown kind or type, a flock with a
 * range, a range beyond off_t and short or long payloads are refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state/codec.h"

static int round_trip(const struct fr_lock *l, struct fr_lock *out, size_t cut, bool extra)
{
	struct buf b = {0};
	encode_file_lock(&b, l);
	if (extra)
		buf_put_u32(&b, 0);
	int r = decode_file_lock(b.data, (uint32_t)(b.len - cut), out);
	buf_free(&b);
	return r;
}

static void test_locks_round_trip(void **state)
{
	(void)state;
	const struct fr_lock locks[] = {{.fd = 3, .kind = FR_LOCK_FLOCK, .type = F_WRLCK},
					{.fd = 4, .kind = FR_LOCK_POSIX, .type = F_RDLCK, .start = 100, .len = 0},
					{.fd = 5, .kind = FR_LOCK_OFD, .type = F_WRLCK, .start = 0, .len = 5}};
	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
		struct fr_lock g;
		assert_int_equal(round_trip(&locks[i], &g, 0, false), 0);
		assert_int_equal(g.fd, locks[i].fd);
		assert_int_equal(g.kind, locks[i].kind);
		assert_int_equal(g.type, locks[i].type);
		assert_true(g.start == locks[i].start && g.len == locks[i].len);
	}
}

static void test_impossible_locks_are_refused(void **state)
{
	(void)state;
	const struct fr_lock good = {.fd = 4, .kind = FR_LOCK_POSIX, .type = F_WRLCK, .start = 10, .len = 20};
	struct fr_lock g, bad[6] = {good, good, good, good, good, good};
	bad[0].fd = -1;
	bad[1].kind = 4;
	bad[2].type = F_UNLCK;
	bad[3].kind = FR_LOCK_FLOCK; /* a flock has no range */
	bad[4].start = (uint64_t)INT64_MAX;
	bad[5].len = ~0ull;
	for (int i = 0; i < 6; i++)
		assert_int_equal(round_trip(&bad[i], &g, 0, false), -EBADMSG);
	assert_int_equal(round_trip(&good, &g, 1, false), -EBADMSG);
	assert_int_equal(round_trip(&good, &g, 0, true), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locks_round_trip),
		cmocka_unit_test(test_impossible_locks_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
