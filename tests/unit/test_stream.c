/* test_stream.c — record framing: round trip, and every kind of damage a
 * stream can suffer (truncation, a flipped bit, a wrong version, garbage
 * lengths) is reported as such, never accepted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/crc32c.h"
#include "state/stream.h"

/* A memfd holding a stream of three records: hello-ish, 2 pages, done. */
static int make_stream(void)
{
	int fd = memfd_create("stream", 0);
	assert_true(fd >= 0);
	struct fr_stream s;
	stream_init(&s, fd);
	assert_int_equal(stream_write_preamble(&s), 0);
	assert_int_equal(stream_write_record(&s, REC_HELLO, "hello", 5), 0);
	static uint8_t page[8192];
	memset(page, 0xab, sizeof(page));
	struct iovec iov[2] = {{(void *)"hdr", 3}, {page, sizeof(page)}};
	assert_int_equal(stream_write_recordv(&s, REC_PAGES, iov, 2), 0);
	assert_int_equal(stream_write_record(&s, REC_DONE, NULL, 0), 0);
	assert_int_equal(s.records, 3);
	assert_int_equal(s.offset, 16 + 3 * 12 + 5 + 3 + 8192);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_crc32c_known_vector(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	/* Continuing a sum equals summing the concatenation. */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	assert_int_equal(crc32c_combine(crc32c(0, "1234", 4), crc32c(0, "56789", 5), 5), 0xE3069283u);
}

/* The three-lane path for large buffers must agree with feeding the same
 * bytes in small pieces (which never takes it), for every length class. */
static void test_crc32c_lanes_match_bytewise(void **state)
{
	(void)state;
	static uint8_t big[3 * 65536 + 13];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 131 + (i >> 9));
	size_t lens[] = {4096, 4097, 4103, 12288, 65536, 2 * 65536 + 5, sizeof(big)};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t whole = crc32c(0x1234567u, big, lens[k]);
		uint32_t pieces = 0x1234567u;
		for (size_t off = 0; off < lens[k]; off += 1000)
			pieces = crc32c(pieces, big + off, lens[k] - off < 1000 ? lens[k] - off : 1000);
		if (whole != pieces)
			fail_msg("length %zu: lanes %08x, pieces %08x", lens[k], whole, pieces);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	int fd = make_stream();
	struct fr_stream s;
	stream_init(&s, fd);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	assert_int_equal(stream_read_preamble(&s), 0);
	assert_int_equal(stream_read_record(&s, &type, &p, &len), 0);
	assert_int_equal(type, REC_HELLO);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal(stream_read_record(&s, &type, &p, &len), 0);
	assert_int_equal(type, REC_PAGES);
	assert_int_equal(len, 3 + 8192);
	assert_memory_equal(p, "hdr", 3);
	assert_int_equal(p[3 + 8191], 0xab);
	assert_int_equal(stream_read_record(&s, &type, &p, &len), 0);
	assert_int_equal(type, REC_DONE);
	assert_int_equal(len, 0);
	assert_int_equal(stream_read_record(&s, &type, &p, &len), -ENODATA);
	assert_string_equal(s.err, ""); /* a clean end, not an error */
	stream_release(&s);
	close(fd);
}

static int read_all(int fd, char *err, size_t errlen)
{
	struct fr_stream s;
	stream_init(&s, fd);
	lseek(fd, 0, SEEK_SET);
	int r = stream_read_preamble(&s);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	while (r == 0)
		r = stream_read_record(&s, &type, &p, &len);
	snprintf(err, errlen, "%s", s.err);
	stream_release(&s);
	return r;
}

static void test_every_flipped_byte_is_caught(void **state)
{
	(void)state;
	int fd = make_stream();
	off_t size = lseek(fd, 0, SEEK_END);
	char err[256];
	/* Flip one byte at a time (a sample across the whole stream). */
	for (off_t at = 0; at < size; at += (at < 80 ? 1 : 509)) {
		uint8_t b;
		assert_int_equal(pread(fd, &b, 1, at), 1);
		uint8_t nb = (uint8_t)(b ^ 0x10);
		assert_int_equal(pwrite(fd, &nb, 1, at), 1);
		int r = read_all(fd, err, sizeof(err));
		if (r != -EBADMSG && r != -EPROTO && !(r == -ENODATA && err[0]))
			fail_msg("flip at offset %lld was accepted (r=%d, err=%s)", (long long)at, r, err);
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
	}
	assert_int_equal(read_all(fd, err, sizeof(err)), -ENODATA);
	close(fd);
}

static void test_truncation_is_reported(void **state)
{
	(void)state;
	int fd = make_stream();
	off_t size = lseek(fd, 0, SEEK_END);
	char err[256];
	assert_int_equal(ftruncate(fd, size / 2), 0);
	assert_int_equal(read_all(fd, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(ftruncate(fd, 10), 0);
	assert_int_equal(read_all(fd, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated"));
	close(fd);
}

static void test_wrong_version_is_named(void **state)
{
	(void)state;
	int fd = make_stream();
	uint32_t v = FR_STREAM_VERSION + 1;
	assert_int_equal(pwrite(fd, &v, sizeof(v), 8), (ssize_t)sizeof(v));
	char err[256];
	assert_int_equal(read_all(fd, err, sizeof(err)), -EPROTO);
	char want[64];
	snprintf(want, sizeof(want), "unsupported stream format version %u", v);
	assert_non_null(strstr(err, want));
	assert_int_equal(pwrite(fd, "NOTFERRY", 8, 0), 8);
	assert_int_equal(read_all(fd, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "bad magic"));
	close(fd);
}

static void test_huge_length_is_rejected_without_allocating(void **state)
{
	(void)state;
	int fd = make_stream();
	uint32_t len = 0xfffffff0u; /* the first record's length field */
	assert_int_equal(pwrite(fd, &len, sizeof(len), 16 + 4), (ssize_t)sizeof(len));
	char err[256];
	assert_int_equal(read_all(fd, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "invalid record header"));
	close(fd);
}

static void test_reserved_header_flags_are_refused(void **state)
{
	(void)state;
	int fd = make_stream();
	uint16_t flags = 0x8000; /* the first record's flags field */
	assert_int_equal(pwrite(fd, &flags, sizeof(flags), 16 + 2), (ssize_t)sizeof(flags));
	char err[256];
	assert_int_equal(read_all(fd, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "reserved header flags"));
	/* The in-place checker of a mapped image refuses it too. */
	uint8_t rec[FR_RECORD_HEADER_SIZE + 5];
	assert_int_equal(pread(fd, rec, sizeof(rec), 16), (ssize_t)sizeof(rec));
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	size_t size;
	assert_int_equal(stream_check_record(rec, sizeof(rec), false, &type, &p, &len, &size), -EBADMSG);
	close(fd);
}

static void test_unknown_record_type_is_refused(void **state)
{
	(void)state;
	int fd = make_stream();
	uint16_t type = REC__MAX;
	assert_int_equal(pwrite(fd, &type, sizeof(type), 16), (ssize_t)sizeof(type));
	char err[256];
	assert_int_equal(read_all(fd, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "unknown record type"));
	close(fd);
}

/* A peer that connects and then never writes: the reader must give up
 * after its deadline instead of waiting forever. */
static void test_silent_peer_times_out(void **state)
{
	(void)state;
	enum { TEST_TIMEOUT_MS = 200 };
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	struct fr_stream s;
	stream_init(&s, pfd[0]);
	assert_false(s.seekable);
	assert_int_equal(s.read_timeout_ms, FR_STREAM_READ_TIMEOUT_MS);
	s.read_timeout_ms = TEST_TIMEOUT_MS;
	alarm(10); /* without the deadline the read blocks: fail loudly instead of hanging */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(stream_read_preamble(&s), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= TEST_TIMEOUT_MS * 0.9);
	assert_non_null(strstr(s.err, "no data from the peer for"));

	/* Mid-stream too: a preamble and half a record header, then silence. */
	struct fr_stream w;
	stream_init(&w, pfd[1]);
	assert_int_equal(stream_write_preamble(&w), 0);
	assert_int_equal(write(pfd[1], "\x01\x00\x00", 3), 3);
	stream_init(&s, pfd[0]);
	s.read_timeout_ms = TEST_TIMEOUT_MS;
	assert_int_equal(stream_read_preamble(&s), 0);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	assert_int_equal(stream_read_record(&s, &type, &p, &len), -ETIMEDOUT);
	assert_non_null(strstr(s.err, "no data from the peer"));
	alarm(0);
	stream_release(&s);
	close(pfd[0]);
	close(pfd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vector),
		cmocka_unit_test(test_crc32c_lanes_match_bytewise),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_flipped_byte_is_caught),
		cmocka_unit_test(test_truncation_is_reported),
		cmocka_unit_test(test_wrong_version_is_named),
		cmocka_unit_test(test_huge_length_is_rejected_without_allocating),
		cmocka_unit_test(test_reserved_header_flags_are_refused),
		cmocka_unit_test(test_unknown_record_type_is_refused),
		cmocka_unit_test(test_silent_peer_times_out),
	};
	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
