/* test_codec_fdstate.c — FILE records of the kernel objects with more state
 * than a counter (codec_fdstate.c): an epoll set's and an inotify
 * instance's watches, a timerfd's clock and times, the contents of a memfd
 * or deleted file survive a round trip;
 * malformed ones (unordered or impossible watches, unknown bits, clocks or
 * flags, a tail cut short or claiming more watches than its bytes hold)
 * are refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>

#include <cmocka.h>

#include "state/codec.h"

static int round_trip(const struct fr_file *f, struct fr_file *out)
{
	struct buf b = {0};
	encode_file(&b, f);
	assert_false(b.oom);
	int r = decode_file(b.data, (uint32_t)b.len, out);
	buf_free(&b);
	return r;
}

static void assert_refused(const struct fr_file *f)
{
	struct fr_file g;
	assert_int_equal(round_trip(f, &g), -EBADMSG);
	assert_null(g.path);
	assert_null(g.watches);
}

static void test_epoll_watches_round_trip(void **state)
{
	(void)state;
	struct fr_watch w[] = {{.id = 4, .mask = EPOLLIN | EPOLLET | EPOLLERR | EPOLLHUP, .data = 0x1122334455667788ull},
			       {.id = 5, .mask = EPOLLONESHOT | EPOLLET}, /* a oneshot watch that fired */
			       {.id = 900, .mask = EPOLLOUT | EPOLLRDHUP | EPOLLEXCLUSIVE, .data = ~0ull}};
	struct fr_file f = {.fd = 3, .kind = FILE_EPOLL, .flags = O_RDWR, .share_of = -1,
			    .path = "anon_inode:[eventpoll]", .nwatches = 3, .watches = w};
	struct fr_file g;
	assert_int_equal(round_trip(&f, &g), 0);
	assert_int_equal(g.kind, FILE_EPOLL);
	assert_int_equal(g.nwatches, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g.watches[i].id, w[i].id);
		assert_int_equal(g.watches[i].mask, w[i].mask);
		assert_true(g.watches[i].data == w[i].data);
		assert_null(g.watches[i].path);
	}
	fr_file_free(&g);
	/* an empty set is fine too */
	f.nwatches = 0;
	assert_int_equal(round_trip(&f, &g), 0);
	assert_int_equal(g.nwatches, 0);
	fr_file_free(&g);
	f.nwatches = 3;

	struct fr_watch bad[3];
	memcpy(bad, w, sizeof(w));
	f.watches = bad;
	bad[1].id = 4; /* the same fd twice, or out of order */
	assert_refused(&f);
	memcpy(bad, w, sizeof(w));
	bad[0].id = -1;
	assert_refused(&f);
	memcpy(bad, w, sizeof(w));
	bad[2].mask |= 1u << 20; /* not an epoll bit */
	assert_refused(&f);
	memcpy(bad, w, sizeof(w));
	bad[2].path = "/etc/passwd";
	assert_refused(&f);
	memcpy(bad, w, sizeof(w));
	f.value = 1; /* an epoll set has no counter */
	assert_refused(&f);
}

static void test_inotify_watches_round_trip(void **state)
{
	(void)state;
	struct fr_watch w[] = {{.id = 3, .mask = IN_CREATE | IN_DELETE, .path = "/tmp/dir"},
			       {.id = 17, .mask = IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK, .path = "/etc/passwd"}};
	struct fr_file f = {.fd = 9, .kind = FILE_INOTIFY, .flags = O_RDONLY | O_NONBLOCK, .share_of = -1,
			    .path = "anon_inode:inotify", .nwatches = 2, .watches = w};
	struct fr_file g;
	assert_int_equal(round_trip(&f, &g), 0);
	assert_int_equal(g.nwatches, 2);
	assert_int_equal(g.watches[1].id, 17);
	assert_int_equal(g.watches[1].mask, IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK);
	assert_string_equal(g.watches[0].path, "/tmp/dir");
	assert_string_equal(g.watches[1].path, "/etc/passwd");
	fr_file_free(&g);

	struct fr_watch bad[2];
	enum { CASES = 6 };
	for (int c = 0; c < CASES; c++) {
		memcpy(bad, w, sizeof(w));
		f.watches = bad;
		switch (c) {
		case 0: bad[0].id = 0; break;              /* wds start at 1 */
		case 1: bad[1].id = 3; break;              /* not ascending */
		case 2: bad[1].path = "etc/passwd"; break; /* relative */
		case 3: bad[0].path = NULL; break;
		case 4: bad[0].mask = IN_ONESHOT; break;   /* no event at all */
		case 5: bad[1].data = 1; break;
		}
		assert_refused(&f);
	}
}

static void test_timerfd_round_trip(void **state)
{
	(void)state;
	struct fr_file f = {.fd = 6, .kind = FILE_TIMERFD, .flags = O_RDWR | O_NONBLOCK, .share_of = -1,
			    .path = "anon_inode:[timerfd]", .value = 7,
			    .kind_flags = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    .timer = {.clockid = CLOCK_REALTIME, .value_ns = 999999999999ull, .interval_ns = 20000000}};
	struct fr_file g;
	assert_int_equal(round_trip(&f, &g), 0);
	assert_int_equal(g.timer.clockid, CLOCK_REALTIME);
	assert_true(g.timer.value_ns == 999999999999ull);
	assert_true(g.timer.interval_ns == 20000000);
	assert_true(g.value == 7);
	assert_int_equal(g.kind_flags, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	fr_file_free(&g);

	struct fr_file bad = f;
	bad.timer.clockid = CLOCK_PROCESS_CPUTIME_ID; /* timerfd_create refuses it */
	assert_refused(&bad);
	bad = f;
	bad.kind_flags = 4;
	assert_refused(&bad);
	bad = f;
	bad.timer.interval_ns = (uint64_t)INT64_MAX + 1;
	assert_refused(&bad);
	bad = f;
	bad.pos = 8;
	assert_refused(&bad);
}

static void test_signalfd_round_trip(void **state)
{
	(void)state;
	struct fr_file f = {.fd = 7, .kind = FILE_SIGNALFD, .flags = O_RDWR, .share_of = -1,
			    .path = "anon_inode:[signalfd]", .value = (1ull << 9) | (1ull << 35)};
	struct fr_file g;
	assert_int_equal(round_trip(&f, &g), 0);
	assert_true(g.value == ((1ull << 9) | (1ull << 35)));
	fr_file_free(&g);
	f.kind_flags = 1;
	assert_refused(&f);
}

static void test_contents_round_trip(void **state)
{
	(void)state;
	uint8_t a[] = {1, 2, 3}, b[] = {9};
	struct fr_extent e[] = {{.offset = 0, .len = 3, .data = a}, {.offset = 4096, .len = 1, .data = b}};
	struct fr_file m = {.fd = 4, .kind = FILE_MEMFD, .flags = O_RDWR, .share_of = -1, .pos = 2,
			    .path = "/memfd:name with spaces (deleted)", .value = 8192,
			    .kind_flags = F_SEAL_SEAL | F_SEAL_GROW, .nextents = 2, .extents = e};
	struct fr_file g;
	assert_int_equal(round_trip(&m, &g), 0);
	assert_int_equal(g.nextents, 2);
	assert_true(g.value == 8192 && g.pos == 2);
	assert_int_equal(g.kind_flags, F_SEAL_SEAL | F_SEAL_GROW);
	assert_true(g.extents[1].offset == 4096 && g.extents[1].len == 1 && g.extents[1].data[0] == 9);
	assert_memory_equal(g.extents[0].data, a, 3);
	fr_file_free(&g);
	struct fr_file gh = {.fd = 5, .kind = FILE_GHOST, .flags = O_RDWR | O_APPEND, .share_of = -1,
			     .path = "/tmp/x", .value = 3, .kind_flags = 0640, .nextents = 1, .extents = e};
	assert_int_equal(round_trip(&gh, &g), 0);
	assert_int_equal(g.kind_flags, 0640);
	fr_file_free(&g);

	struct fr_file bad = m;
	bad.value = 4096; /* the second extent ends past the size */
	assert_refused(&bad);
	bad = m;
	bad.path = "/tmp/not-a-memfd";
	assert_refused(&bad);
	bad = m;
	bad.kind_flags = 0x1000; /* not a seal */
	assert_refused(&bad);
	struct fr_extent overlap[] = {{.offset = 0, .len = 3, .data = a}, {.offset = 2, .len = 1, .data = b}};
	bad = m;
	bad.extents = overlap;
	assert_refused(&bad);
	bad = gh;
	bad.path = "tmp/x";
	assert_refused(&bad);
	bad = gh;
	bad.kind_flags = 0100640; /* a type, not permission bits */
	assert_refused(&bad);
}

/* A tail cut short, and a watch count its bytes cannot hold. */
static void test_short_or_oversized_tails_are_refused(void **state)
{
	(void)state;
	struct fr_watch w[] = {{.id = 1, .mask = IN_CREATE, .path = "/tmp"}};
	struct fr_file f = {.fd = 9, .kind = FILE_INOTIFY, .share_of = -1, .path = "anon_inode:inotify", .nwatches = 1,
			    .watches = w};
	struct buf b = {0};
	encode_file(&b, &f);
	struct fr_file g;
	for (size_t cut = 1; cut <= 12; cut++)
		assert_int_equal(decode_file(b.data, (uint32_t)(b.len - cut), &g), -EBADMSG);
	/* nwatches sits right after the fixed part: claim a million */
	size_t at = b.len - (4 + 4 + 4 + 8 + 4 + strlen("/tmp"));
	uint32_t many = FR_MAX_WATCHES;
	memcpy(b.data + at, &many, sizeof(many));
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);
	assert_null(g.watches);
	buf_free(&b);
	/* a timerfd record without its clock and times */
	struct fr_file t = {.fd = 6, .kind = FILE_TIMERFD, .share_of = -1, .path = "anon_inode:[timerfd]",
			    .timer = {.clockid = CLOCK_MONOTONIC}};
	b = (struct buf){0};
	encode_file(&b, &t);
	assert_int_equal(decode_file(b.data, (uint32_t)(b.len - 20), &g), -EBADMSG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoll_watches_round_trip),
		cmocka_unit_test(test_inotify_watches_round_trip),
		cmocka_unit_test(test_timerfd_round_trip),
		cmocka_unit_test(test_signalfd_round_trip),
		cmocka_unit_test(test_contents_round_trip),
		cmocka_unit_test(test_short_or_oversized_tails_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
