/* compress.c — see compress.h. */
#include "compress.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define RAW_LEN_SIZE 4

static const char *const names[] = {[FR_COMPRESS_NONE] = "none", [FR_COMPRESS_LZ4] = "lz4",
				    [FR_COMPRESS_ZSTD] = "zstd"};

const char *fr_compress_name(enum fr_compress c) { return c <= FR_COMPRESS_ZSTD ? names[c] : "?"; }

int fr_compress_parse(const char *name, enum fr_compress *c)
{
	for (unsigned i = 0; i <= FR_COMPRESS_ZSTD; i++)
		if (strcmp(name, names[i]) == 0) {
			*c = (enum fr_compress)i;
			return 0;
		}
	return -EINVAL;
}

/* Per-thread buffers: page workers compress in parallel. */
static __thread uint8_t *flat, *packed;
static __thread size_t flat_cap, packed_cap;

static int grow(uint8_t **b, size_t *cap, size_t want)
{
	if (*cap >= want)
		return 0;
	uint8_t *nb = realloc(*b, want);
	if (!nb)
		return -ENOMEM;
	*b = nb;
	*cap = want;
	return 0;
}

int compress_payload(enum fr_compress c, const struct iovec *iov, int n, size_t len, const uint8_t **out,
		     size_t *outlen)
{
	if (len > (size_t)LZ4_MAX_INPUT_SIZE)
		return -E2BIG;
	const uint8_t *src = iov[0].iov_base;
	if (n > 1) { /* the codecs want one buffer */
		if (grow(&flat, &flat_cap, len) < 0)
			return -ENOMEM;
		size_t at = 0;
		for (int i = 0; i < n; i++) {
			memcpy(flat + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		src = flat;
	}
	size_t bound = c == FR_COMPRESS_LZ4 ? (size_t)LZ4_compressBound((int)len) : ZSTD_compressBound(len);
	if (grow(&packed, &packed_cap, bound + RAW_LEN_SIZE) < 0)
		return -ENOMEM;
	size_t got;
	if (c == FR_COMPRESS_LZ4) {
		int r = LZ4_compress_default((const char *)src, (char *)packed + RAW_LEN_SIZE, (int)len, (int)bound);
		if (r <= 0)
			return -E2BIG;
		got = (size_t)r;
	} else if (c == FR_COMPRESS_ZSTD) {
		got = ZSTD_compress(packed + RAW_LEN_SIZE, bound, src, len, FR_COMPRESS_ZSTD_LEVEL);
		if (ZSTD_isError(got))
			return -E2BIG;
	} else {
		return -EINVAL;
	}
	if (got + RAW_LEN_SIZE >= len)
		return -E2BIG;
	uint32_t raw = (uint32_t)len;
	memcpy(packed, &raw, RAW_LEN_SIZE);
	*out = packed;
	*outlen = got + RAW_LEN_SIZE;
	return 0;
}

int decompress_payload(enum fr_compress c, const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
		       size_t *outlen)
{
	uint32_t raw;
	if (inlen < RAW_LEN_SIZE)
		return -EBADMSG;
	memcpy(&raw, in, RAW_LEN_SIZE);
	if (raw > cap)
		return -EBADMSG;
	in += RAW_LEN_SIZE;
	inlen -= RAW_LEN_SIZE;
	size_t got;
	if (c == FR_COMPRESS_LZ4) {
		int r = LZ4_decompress_safe((const char *)in, (char *)out, (int)inlen, (int)raw);
		if (r < 0)
			return -EBADMSG;
		got = (size_t)r;
	} else if (c == FR_COMPRESS_ZSTD) {
		got = ZSTD_decompress(out, raw, in, inlen);
		if (ZSTD_isError(got))
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	if (got != raw)
		return -EBADMSG;
	*outlen = got;
	return 0;
}
