/* codec_lock.c — the FILE_LOCK record: a flock, POSIX or OFD lock and the
 * fd it is taken through again. Wire order: fd, kind, type, start, len. */
#include "codec_internal.h"

#include <errno.h>
#include <fcntl.h>

void encode_file_lock(struct buf *b, const struct fr_lock *l)
{
	buf_put_u32(b, (uint32_t)l->fd);
	buf_put_u32(b, l->kind);
	buf_put_u32(b, l->type);
	buf_put_u64(b, l->start);
	buf_put_u64(b, l->len);
}

int decode_file_lock(const uint8_t *data, uint32_t len, struct fr_lock *l)
{
	struct buf_reader r = buf_reader(data, len);
	l->fd = (int32_t)buf_get_u32(&r);
	l->kind = buf_get_u32(&r);
	l->type = buf_get_u32(&r);
	l->start = buf_get_u64(&r);
	l->len = buf_get_u64(&r);
	uint64_t end;
	if (codec_finish(&r) < 0)
		return -EBADMSG;
	if (l->fd < 0)
		return codec_refuse("file lock fd (negative)");
	if (l->kind < FR_LOCK_FLOCK || l->kind > FR_LOCK_OFD)
		return codec_refuse("file lock kind");
	if (l->type != F_RDLCK && l->type != F_WRLCK)
		return codec_refuse("file lock type");
	if (l->kind == FR_LOCK_FLOCK && (l->start || l->len))
		return codec_refuse("file lock range (a flock has none)");
	if (l->start > (uint64_t)INT64_MAX || l->len > (uint64_t)INT64_MAX ||
	    __builtin_add_overflow(l->start, l->len, &end) || end > (uint64_t)INT64_MAX)
		return codec_refuse("file lock range (beyond off_t)");
	return 0;
}
