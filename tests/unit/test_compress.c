/* test_compress.c — compressed records: lz4 and zstd PAGES payloads come
 * back byte for byte; a payload that would not shrink goes raw; a reader not
 * told to accept a codec refuses the record; a compressed payload that lies
 * about its raw length or does not decompress is refused, never believed;
 * other record types are never compressed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/compress.h"
#include "state/stream.h"

#define PAYLOAD (256u << 10)

/* Writes one record into a memfd with codec c, reads it back with a reader
 * that accepts the codecs in accept; *flags_seen: the header flags on the wire. */
static int round_trip(enum fr_compress c, unsigned accept, uint16_t type, const uint8_t *data, size_t len,
		      uint8_t *back, uint32_t *blen, uint16_t *flags_seen, char *err)
{
	int fd = memfd_create("ferry-test", 0);
	assert_true(fd >= 0);
	struct fr_stream w, r;
	stream_init(&w, fd);
	w.compress = (uint8_t)c;
	assert_int_equal(stream_write_record(&w, type, data, len), 0);
	assert_int_equal(pread(fd, flags_seen, sizeof(*flags_seen), 2), sizeof(*flags_seen));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	stream_init(&r, fd);
	r.accept_compress = (uint8_t)accept;
	uint16_t t;
	const uint8_t *p;
	int e = stream_read_record(&r, &t, &p, blen);
	if (e == 0)
		memcpy(back, p, *blen);
	strcpy(err, r.err);
	stream_release(&r);
	close(fd);
	return e;
}

static void test_codecs(void **state)
{
	(void)state;
	uint8_t *data = malloc(PAYLOAD), *back = malloc(PAYLOAD);
	for (size_t i = 0; i < PAYLOAD; i++) /* compressible: short runs of a few values */
		data[i] = (uint8_t)((i / 64) % 7);
	char err[256];
	for (enum fr_compress c = FR_COMPRESS_LZ4; c <= FR_COMPRESS_ZSTD; c++) {
		uint32_t blen;
		uint16_t flags;
		assert_int_equal(round_trip(c, 1u << c, REC_PAGES, data, PAYLOAD, back, &blen, &flags, err), 0);
		assert_int_equal(flags, c);
		assert_int_equal(blen, PAYLOAD);
		assert_memory_equal(back, data, PAYLOAD);
		/* a reader that was not told to accept it */
		assert_int_equal(round_trip(c, 0, REC_PAGES, data, PAYLOAD, back, &blen, &flags, err), -EBADMSG);
		assert_non_null(strstr(err, "a compressed record this reader was not told to accept"));
		/* other record types go as they are */
		assert_int_equal(round_trip(c, 1u << c, REC_VMA, data, 4096, back, &blen, &flags, err), 0);
		assert_int_equal(flags, 0);
	}
	free(data);
	free(back);
}

static void test_incompressible_goes_raw(void **state)
{
	(void)state;
	uint8_t *data = malloc(PAYLOAD), *back = malloc(PAYLOAD);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < PAYLOAD; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		data[i] = (uint8_t)x;
	}
	char err[256];
	uint32_t blen;
	uint16_t flags;
	assert_int_equal(round_trip(FR_COMPRESS_LZ4, 1u << FR_COMPRESS_LZ4, REC_PAGES, data, PAYLOAD, back, &blen, &flags,
				    err), 0);
	assert_int_equal(flags, 0);
	assert_memory_equal(back, data, PAYLOAD);
	free(data);
	free(back);
}

static void test_lies_refused(void **state)
{
	(void)state;
	uint8_t in[64], out[128];
	size_t got;
	const struct iovec v = {.iov_base = (void *)"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", .iov_len = 64};
	const uint8_t *packed;
	size_t plen;
	for (enum fr_compress c = FR_COMPRESS_LZ4; c <= FR_COMPRESS_ZSTD; c++) {
		assert_int_equal(compress_payload(c, &v, 1, 64, &packed, &plen), 0);
		memcpy(in, packed, plen);
		assert_int_equal(decompress_payload(c, in, plen, out, sizeof(out), &got), 0);
		assert_int_equal(got, 64);
		uint32_t lie = 65; /* claims one byte more than it holds */
		memcpy(in, &lie, sizeof(lie));
		assert_int_equal(decompress_payload(c, in, plen, out, sizeof(out), &got), -EBADMSG);
		lie = 1u << 30; /* more than the reader's room */
		memcpy(in, &lie, sizeof(lie));
		assert_int_equal(decompress_payload(c, in, plen, out, sizeof(out), &got), -EBADMSG);
		memcpy(in, packed, plen);
		in[plen - 1] ^= 0xff; /* damaged compressed bytes */
		size_t g2;
		int e = decompress_payload(c, in, plen, out, sizeof(out), &g2);
		assert_true(e == -EBADMSG || (e == 0 && g2 == 64)); /* refused, or (lz4 literal) still exactly sized */
		assert_int_equal(decompress_payload(c, in, 3, out, sizeof(out), &got), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codecs),
		cmocka_unit_test(test_incompressible_goes_raw),
		cmocka_unit_test(test_lies_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
