/* codec_shm.c — the SHM record: one System V shared memory segment the
 * process alone has attached (its contents travel as the pages of its
 * VMA_SYSV_SHM mappings). Wire order: id, key, size, mode, uid, gid. */
#include "codec_internal.h"

#include <errno.h>

#define SHM_SIZE_MAX (1ull << 46) /* far above any machine's kernel.shmmax use: 64 TiB */

void encode_shm(struct buf *b, const struct fr_shm *m)
{
	buf_put_u32(b, (uint32_t)m->id);
	buf_put_u32(b, m->key);
	buf_put_u64(b, m->size);
	buf_put_u32(b, m->mode);
	buf_put_u32(b, m->uid);
	buf_put_u32(b, m->gid);
}

int decode_shm(const uint8_t *data, uint32_t len, struct fr_shm *m)
{
	struct buf_reader r = buf_reader(data, len);
	m->id = (int32_t)buf_get_u32(&r);
	m->key = buf_get_u32(&r);
	m->size = buf_get_u64(&r);
	m->mode = buf_get_u32(&r);
	m->uid = buf_get_u32(&r);
	m->gid = buf_get_u32(&r);
	if (codec_finish(&r) < 0)
		return -EBADMSG;
	if (m->id < 0)
		return codec_refuse("shm id (negative)");
	if (m->size == 0 || m->size > SHM_SIZE_MAX)
		return codec_refuse("shm size (zero or beyond any machine)");
	if (m->mode & ~FR_SHM_MODES)
		return codec_refuse("shm mode (bits other than permissions and SHM_DEST)");
	return 0;
}
