/* compress.h — optional compression of record payloads on a migration link
 * (`ferry send --compress lz4|zstd`). A compressed record has its codec in
 * the low bits of the header flags and carries a u32 with the raw length
 * before the compressed bytes; the record CRC covers the bytes on the wire.
 * Only a reader that was told to accept a codec takes such records: image
 * files are never compressed, and a version-1 reader refuses the flags. */
#ifndef FERRY_COMPRESS_H
#define FERRY_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum fr_compress { FR_COMPRESS_NONE = 0, FR_COMPRESS_LZ4 = 1, FR_COMPRESS_ZSTD = 2 };
#define FR_REC_COMPRESS_MASK 0x3u /* record header flag bits naming the codec */
#define FR_COMPRESS_ZSTD_LEVEL 1  /* zstd's fastest: the link, not the ratio, is what is short */

const char *fr_compress_name(enum fr_compress c);
int fr_compress_parse(const char *name, enum fr_compress *c);

/* Compresses iov[0..n) (len bytes) into *out ([u32 raw length][bytes]);
 * *out is a per-thread buffer valid until the next call. -E2BIG when the
 * result would not be smaller: send the payload as it is. */
int compress_payload(enum fr_compress c, const struct iovec *iov, int n, size_t len, const uint8_t **out,
		     size_t *outlen);
/* Decompresses a wire payload into out (cap bytes); -EBADMSG if it is
 * malformed or its raw length is not what it claims or exceeds cap. */
int decompress_payload(enum fr_compress c, const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
		       size_t *outlen);

#endif
