/* sysv_shm.c — System V shared memory segments made again in the
 * restore's IPC namespace (ferry's and the stub's) before the memory is
 * built: each with its id (written to kernel.shm_next_id just before its
 * shmget), key, size, mode and owner. mm.c attaches them where the process
 * had them and the pages fill them; a segment the process had removed
 * (IPC_RMID, SHM_DEST) is removed again once attached, so it goes with its
 * last detach as before. A restore that fails removes what it made. A
 * segment of the same id, key and size attached nowhere is the one the
 * process left when the dump ended it here: it is taken again (its pages
 * are written anyway). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "../common/util.h"
#include "internal.h"

#define SHM_NEXT_ID "/proc/sys/kernel/shm_next_id"

static int set_next_id(int32_t id)
{
	_cleanup_close_ int fd = open(SHM_NEXT_ID, O_WRONLY | O_CLOEXEC);
	char num[16];
	int n = snprintf(num, sizeof(num), "%d", id);
	if (fd < 0 || write(fd, num, (size_t)n) != n)
		return neg_errno();
	return 0;
}

/* The segment the process left behind when the dump ended it on this
 * host (a segment outlives its last detach unless removed): the same id,
 * key and size, attached nowhere. */
static bool left_behind(const struct fr_shm *m, const struct shmid_ds *ds)
{
	return (uint32_t)ds->shm_perm.__key == m->key && ds->shm_segsz == m->size && ds->shm_nattch == 0 &&
	       !(ds->shm_perm.mode & SHM_DEST);
}

static int set_owner(const struct fr_shm *m, struct shmid_ds *ds)
{
	ds->shm_perm.uid = m->uid, ds->shm_perm.gid = m->gid, ds->shm_perm.mode = m->mode & 0777;
	return shmctl(m->id, IPC_SET, ds) < 0 ? neg_errno() : 0;
}

/* Makes segment m, or takes the one it left behind (*made false). */
static int make_one(const struct fr_shm *m, bool *made, char *err, size_t errlen)
{
	key_t key = m->key ? (key_t)m->key : IPC_PRIVATE;
	struct shmid_ds ds;
	*made = false;
	if (shmctl(m->id, IPC_STAT, &ds) == 0) {
		if (!left_behind(m, &ds)) {
			snprintf(err, errlen, "System V shared memory id %d is taken here", m->id);
			return -EEXIST;
		}
		int e = set_owner(m, &ds);
		if (e < 0)
			snprintf(err, errlen, "cannot give System V shared memory segment %d its owner %u:%u: %s", m->id,
				 m->uid, m->gid, strerror(-e));
		return e;
	}
	if (m->key && shmget(key, 0, 0) >= 0) {
		snprintf(err, errlen, "System V shared memory key %#x (segment %d) is taken here", m->key, m->id);
		return -EEXIST;
	}
	int e = set_next_id(m->id);
	int id = e < 0 ? e : shmget(key, m->size, IPC_CREAT | IPC_EXCL | (int)(m->mode & 0777));
	if (id < 0 && e == 0)
		e = neg_errno();
	if (e < 0) {
		set_next_id(-1); /* unused: the next shmget must not take it */
		snprintf(err, errlen, "cannot make System V shared memory segment %d (%llu bytes) again: %s", m->id,
			 (unsigned long long)m->size, strerror(-e));
		return e;
	}
	if (id != m->id) { /* the id was taken: the kernel chose another */
		shmctl(id, IPC_RMID, NULL);
		snprintf(err, errlen, "System V shared memory id %d is taken here", m->id);
		return -EEXIST;
	}
	*made = true;
	e = shmctl(id, IPC_STAT, &ds) < 0 ? neg_errno() : set_owner(m, &ds);
	if (e == 0)
		return 0;
	shmctl(id, IPC_RMID, NULL);
	*made = false;
	snprintf(err, errlen, "cannot give System V shared memory segment %d its owner %u:%u: %s", m->id, m->uid,
		 m->gid, strerror(-e));
	return e;
}

int sysv_shm_make(const struct fr_image *img, struct sysv_made *made, char *err, size_t errlen)
{
	if (!img->nshms)
		return 0;
	made->ids = calloc(img->nshms, sizeof(*made->ids));
	if (!made->ids)
		return -ENOMEM;
	for (uint32_t i = 0; i < img->nshms; i++) {
		bool fresh;
		int r = make_one(&img->shms[i], &fresh, err, errlen);
		if (r < 0)
			return r;
		if (fresh)
			made->ids[made->n++] = img->shms[i].id;
	}
	return 0;
}

int sysv_shm_attached(const struct fr_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->nshms; i++)
		if ((img->shms[i].mode & SHM_DEST) && shmctl(img->shms[i].id, IPC_RMID, NULL) < 0) {
			int e = neg_errno();
			snprintf(err, errlen, "cannot remove System V shared memory segment %d again: %s",
				 img->shms[i].id, strerror(-e));
			return e;
		}
	return 0;
}

void sysv_shm_unmake(struct sysv_made *made)
{
	for (uint32_t i = 0; i < made->n; i++)
		shmctl(made->ids[i], IPC_RMID, NULL);
	sysv_shm_forget(made);
}

void sysv_shm_forget(struct sysv_made *made)
{
	free(made->ids);
	*made = (struct sysv_made){0};
}
