/* control.c — see control.h. Field order is the wire order. */
#include "control.h"
#include "compress.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 1024 /* a refusal is one line */

void encode_offer(struct buf *b, const struct fr_offer *o)
{
	buf_put_u32(b, (uint32_t)o->pid);
	buf_put_u32(b, o->mode);
	buf_put_u64(b, o->memory);
	buf_put_u32(b, o->compress);
	buf_put_u32(b, o->postcopy_flags);
	buf_put_u32(b, o->retry_for_s);
	buf_put_u32(b, o->nfiles);
	for (uint32_t i = 0; i < o->nfiles; i++) {
		buf_put_str(b, o->files[i].path);
		buf_put_u32(b, o->files[i].flags);
		buf_put_u64(b, o->files[i].size);
		buf_put_u64(b, (uint64_t)o->files[i].mtime_ns);
	}
}

int decode_offer(const uint8_t *p, uint32_t len, struct fr_offer *o)
{
	struct buf_reader r = buf_reader(p, len);
	*o = (struct fr_offer){0};
	o->pid = (int32_t)buf_get_u32(&r);
	o->mode = buf_get_u32(&r);
	o->memory = buf_get_u64(&r);
	o->compress = buf_get_u32(&r);
	o->postcopy_flags = buf_get_u32(&r);
	o->retry_for_s = buf_get_u32(&r);
	uint32_t n = buf_get_u32(&r);
	if (r.bad || o->pid <= 0 || o->mode > FR_MODE_HYBRID || o->compress > FR_COMPRESS_ZSTD ||
	    (o->postcopy_flags & ~FR_PC_ALL) || o->retry_for_s > FR_RETRY_FOR_MAX_S || n > FR_OFFER_MAX_FILES)
		return -EBADMSG;
	o->files = calloc(n ? n : 1, sizeof(*o->files));
	if (!o->files)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct fr_offer_file *f = &o->files[i];
		f->path = buf_get_str(&r);
		f->flags = buf_get_u32(&r);
		f->size = buf_get_u64(&r);
		f->mtime_ns = (int64_t)buf_get_u64(&r);
		o->nfiles = i + 1;
		if (!f->path || f->path[0] != '/' || strlen(f->path) >= PATH_MAX || (f->flags & ~FR_OFFER_FILE_EXACT))
			r.bad = true;
	}
	if (!buf_reader_done(&r)) {
		fr_offer_free(o);
		return -EBADMSG;
	}
	return 0;
}

void fr_offer_free(struct fr_offer *o)
{
	for (uint32_t i = 0; o->files && i < o->nfiles; i++)
		free(o->files[i].path);
	free(o->files);
	*o = (struct fr_offer){0};
}

void encode_refuse(struct buf *b, const char *reason) { buf_put_str(b, reason); }

int decode_refuse(const uint8_t *p, uint32_t len, char **reason)
{
	struct buf_reader r = buf_reader(p, len);
	*reason = buf_get_str(&r);
	if (!buf_reader_done(&r) || !*reason || strlen(*reason) > REASON_MAX || strchr(*reason, '\n')) {
		free(*reason);
		*reason = NULL;
		return -EBADMSG;
	}
	return 0;
}

void encode_u64_record(struct buf *b, uint64_t v) { buf_put_u64(b, v); }

int decode_u64_record(const uint8_t *p, uint32_t len, uint64_t *v)
{
	struct buf_reader r = buf_reader(p, len);
	*v = buf_get_u64(&r);
	return buf_reader_done(&r) ? 0 : -EBADMSG;
}

void encode_session(struct buf *b, const uint8_t token[FR_SESSION_TOKEN_LEN]) { buf_put(b, token, FR_SESSION_TOKEN_LEN); }

int decode_session(const uint8_t *p, uint32_t len, uint8_t token[FR_SESSION_TOKEN_LEN])
{
	if (len != FR_SESSION_TOKEN_LEN)
		return -EBADMSG;
	memcpy(token, p, FR_SESSION_TOKEN_LEN);
	return 0;
}

void encode_resume(struct buf *b, uint64_t total, const uint8_t *bits)
{
	buf_put_u64(b, total);
	buf_put(b, bits, (size_t)((total + 7) / 8));
}

int decode_resume(const uint8_t *p, uint32_t len, uint64_t total, uint8_t *bits)
{
	struct buf_reader r = buf_reader(p, len);
	uint64_t n = buf_get_u64(&r);
	if (r.bad || n != total || len - sizeof(uint64_t) != (n + 7) / 8)
		return -EBADMSG;
	memcpy(bits, p + sizeof(uint64_t), (size_t)((n + 7) / 8));
	return 0;
}
