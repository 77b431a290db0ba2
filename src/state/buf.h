/* buf.h — a growable byte buffer for encoding record payloads and a bounded
 * reader for decoding them. The reader never reads past its end: a short or
 * malformed payload makes every later get fail and buf_reader_ok() false. */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len, cap;
	bool oom; /* an allocation failed: the buffer is unusable */
};

void buf_free(struct buf *b);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_str(struct buf *b, const char *s); /* u32 length + bytes; NULL = length 0xffffffff */

struct buf_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline struct buf_reader buf_reader(const void *p, size_t len)
{
	return (struct buf_reader){.p = p, .left = len, .bad = false};
}
bool buf_get(struct buf_reader *r, void *out, size_t n);
uint32_t buf_get_u32(struct buf_reader *r);
uint64_t buf_get_u64(struct buf_reader *r);
char *buf_get_str(struct buf_reader *r); /* malloc'd; NULL if absent or bad */
/* True if every get succeeded and the payload was consumed exactly. */
static inline bool buf_reader_done(const struct buf_reader *r) { return !r->bad && r->left == 0; }

#endif
