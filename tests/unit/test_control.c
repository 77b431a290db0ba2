/* test_control.c — the migration's control records: an offer survives the
 * round trip; malformed offers (pid 0, an unknown mode or codec, a relative path,
 * unknown file or post-copy flags, too many files, trailing bytes, truncation) and
 * refusals (multi-line, absent) and session tokens of the wrong size are
 * refused rather than believed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/compress.h"
#include "state/control.h"

static void offer_bytes(struct buf *b, int32_t pid, uint32_t mode, const char *path, uint32_t flags,
			uint32_t pc_flags)
{
	struct fr_offer_file f = {.path = (char *)path, .flags = flags, .size = 4096, .mtime_ns = 1234567890123};
	struct fr_offer o = {.pid = pid, .mode = mode, .memory = 1 << 20, .compress = FR_COMPRESS_ZSTD,
			     .postcopy_flags = pc_flags, .retry_for_s = 30, .nfiles = path ? 1 : 0, .files = &f};
	encode_offer(b, &o);
}

static void test_offer_round_trip(void **state)
{
	(void)state;
	struct buf b = {0};
	offer_bytes(&b, 4242, FR_MODE_PRECOPY, "/usr/bin/perl", FR_OFFER_FILE_EXACT, FR_PC_NO_URGENT | FR_PC_NO_PUSH);
	struct fr_offer o;
	assert_int_equal(decode_offer(b.data, (uint32_t)b.len, &o), 0);
	assert_int_equal(o.pid, 4242);
	assert_int_equal(o.mode, FR_MODE_PRECOPY);
	assert_int_equal(o.memory, 1 << 20);
	assert_int_equal(o.compress, FR_COMPRESS_ZSTD);
	assert_int_equal(o.postcopy_flags, FR_PC_NO_URGENT | FR_PC_NO_PUSH);
	assert_int_equal(o.retry_for_s, 30);
	assert_int_equal(o.nfiles, 1);
	assert_string_equal(o.files[0].path, "/usr/bin/perl");
	assert_int_equal(o.files[0].flags, FR_OFFER_FILE_EXACT);
	assert_int_equal(o.files[0].size, 4096);
	assert_int_equal(o.files[0].mtime_ns, 1234567890123);
	fr_offer_free(&o);
	for (size_t cut = 0; cut < b.len; cut++) /* every truncation */
		assert_int_equal(decode_offer(b.data, (uint32_t)cut, &o), -EBADMSG);
	buf_put_u32(&b, 0); /* trailing bytes */
	assert_int_equal(decode_offer(b.data, (uint32_t)b.len, &o), -EBADMSG);
	buf_free(&b);
}

static void test_offer_refusals(void **state)
{
	(void)state;
	struct { int32_t pid; uint32_t mode; const char *path; uint32_t flags, pc_flags; } bad[] = {
		{0, FR_MODE_STOP_AND_COPY, "/a", 0, 0}, {-5, FR_MODE_STOP_AND_COPY, "/a", 0, 0},
		{7, 99, "/a", 0, 0}, {7, FR_MODE_STOP_AND_COPY, "relative/path", 0, 0},
		{7, FR_MODE_STOP_AND_COPY, "/a", 0x80, 0}, {7, FR_MODE_POSTCOPY, "/a", 0, FR_PC_ALL + 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b = {0};
		offer_bytes(&b, bad[i].pid, bad[i].mode, bad[i].path, bad[i].flags, bad[i].pc_flags);
		struct fr_offer o;
		assert_int_equal(decode_offer(b.data, (uint32_t)b.len, &o), -EBADMSG);
		buf_free(&b);
	}
	struct buf b = {0}; /* a file count far above the cap, with nothing behind it */
	buf_put_u32(&b, 7);
	buf_put_u32(&b, FR_MODE_STOP_AND_COPY);
	buf_put_u64(&b, 0);
	buf_put_u32(&b, FR_COMPRESS_NONE);
	buf_put_u32(&b, 0);
	buf_put_u32(&b, 0);
	buf_put_u32(&b, FR_OFFER_MAX_FILES + 1);
	struct fr_offer o;
	assert_int_equal(decode_offer(b.data, (uint32_t)b.len, &o), -EBADMSG);
	b.len = 0;
	struct fr_offer retry = {.pid = 7, .mode = FR_MODE_POSTCOPY, .retry_for_s = FR_RETRY_FOR_MAX_S + 1};
	encode_offer(&b, &retry);
	assert_int_equal(decode_offer(b.data, (uint32_t)b.len, &o), -EBADMSG);
	buf_free(&b);
}

static void test_refuse_and_numbers(void **state)
{
	(void)state;
	struct buf b = {0};
	char *why;
	encode_refuse(&b, "pid 7 is taken");
	assert_int_equal(decode_refuse(b.data, (uint32_t)b.len, &why), 0);
	assert_string_equal(why, "pid 7 is taken");
	free(why);
	b.len = 0;
	encode_refuse(&b, "two\nlines");
	assert_int_equal(decode_refuse(b.data, (uint32_t)b.len, &why), -EBADMSG);
	b.len = 0;
	encode_refuse(&b, NULL);
	assert_int_equal(decode_refuse(b.data, (uint32_t)b.len, &why), -EBADMSG);
	b.len = 0;
	encode_u64_record(&b, 123456789);
	uint64_t v;
	assert_int_equal(decode_u64_record(b.data, (uint32_t)b.len, &v), 0);
	assert_int_equal(v, 123456789);
	assert_int_equal(decode_u64_record(b.data, 4, &v), -EBADMSG);
	b.len = 0;
	uint8_t token[FR_SESSION_TOKEN_LEN], back[FR_SESSION_TOKEN_LEN];
	for (int i = 0; i < FR_SESSION_TOKEN_LEN; i++)
		token[i] = (uint8_t)(i * 37 + 1);
	encode_session(&b, token);
	assert_int_equal(decode_session(b.data, (uint32_t)b.len, back), 0);
	assert_memory_equal(token, back, sizeof(token));
	assert_int_equal(decode_session(b.data, (uint32_t)b.len - 1, back), -EBADMSG);
	b.len = 0;
	uint8_t bits[3] = {0xa5, 0x0f, 0x01}, got[3] = {0};
	encode_resume(&b, 17, bits);
	assert_int_equal(decode_resume(b.data, (uint32_t)b.len, 17, got), 0);
	assert_memory_equal(bits, got, sizeof(bits));
	assert_int_equal(decode_resume(b.data, (uint32_t)b.len, 18, got), -EBADMSG); /* another count */
	assert_int_equal(decode_resume(b.data, (uint32_t)b.len - 1, 17, got), -EBADMSG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_round_trip),
		cmocka_unit_test(test_offer_refusals),
		cmocka_unit_test(test_refuse_and_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
