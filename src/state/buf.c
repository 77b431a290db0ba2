/* buf.c — see buf.h. Integers are stored little-endian (x86_64 native). */
#include "buf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BUF_STR_ABSENT 0xffffffffu
#define BUF_STR_MAX (PATH_MAX - 1) /* every string is a path or shorter; longer is corruption */

void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){0};
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0) /* n == 0: p may be NULL, which memcpy must not get */
		return;
	size_t need;
	if (__builtin_add_overflow(b->len, n, &need)) {
		b->oom = true;
		return;
	}
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need && cap <= SIZE_MAX / 2)
			cap *= 2;
		if (cap < need)
			cap = need;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void buf_put_u32(struct buf *b, uint32_t v) { buf_put(b, &v, sizeof(v)); }
void buf_put_u64(struct buf *b, uint64_t v) { buf_put(b, &v, sizeof(v)); }

void buf_put_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_put_u32(b, BUF_STR_ABSENT);
		return;
	}
	uint32_t n = (uint32_t)strlen(s);
	buf_put_u32(b, n);
	buf_put(b, s, n);
}

bool buf_get(struct buf_reader *r, void *out, size_t n)
{
	if (n == 0) /* out and r->p may be NULL */
		return !r->bad;
	if (r->bad || r->left < n) {
		r->bad = true;
		memset(out, 0, n);
		return false;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

uint32_t buf_get_u32(struct buf_reader *r)
{
	uint32_t v;
	buf_get(r, &v, sizeof(v));
	return v;
}

uint64_t buf_get_u64(struct buf_reader *r)
{
	uint64_t v;
	buf_get(r, &v, sizeof(v));
	return v;
}

char *buf_get_str(struct buf_reader *r)
{
	uint32_t n = buf_get_u32(r);
	if (r->bad || n == BUF_STR_ABSENT)
		return NULL;
	if (n > BUF_STR_MAX || n > r->left) {
		r->bad = true;
		return NULL;
	}
	char *s = malloc(n + 1);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	buf_get(r, s, n);
	s[n] = '\0';
	if (memchr(s, '\0', n)) { /* an embedded NUL is never valid in a path */
		free(s);
		r->bad = true;
		return NULL;
	}
	return s;
}
