/* sysv_shm.c — the System V shared memory segments a process has attached
 * (its VMA_SYSV_SHM mappings). Each segment is looked up in
 * /proc/sysvipc/shm as the process's IPC namespace shows it (entered for
 * the read when it is not ferry's) and recorded once (struct fr_shm) if
 * this process alone attaches it, whole: shm_nattch counts every mapping
 * of the segment in every process, so it must equal the number of this
 * process's mappings of it. The contents travel as the mappings' pages. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "capture.h"

#define SHM_TABLE "/proc/sysvipc/shm"
#define SHM_PAGE 4096ull /* x86_64 base page: a segment is attached in whole pages */

/* One line of /proc/sysvipc/shm. */
struct shm_seg {
	int32_t key, id;
	uint32_t perms, uid, gid;
	uint64_t size, nattch;
};

/* Opens pid's and ferry's IPC namespaces: 1 if they are one, 0 if not. */
static int open_namespaces(pid_t pid, int *theirs, int *mine)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	*theirs = open(path, O_RDONLY | O_CLOEXEC);
	*mine = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	struct stat a, b;
	if (*theirs < 0 || *mine < 0 || fstat(*theirs, &a) < 0 || fstat(*mine, &b) < 0)
		return -1;
	return a.st_ino == b.st_ino;
}

/* Opens the segment table of pid's IPC namespace. */
static FILE *open_table(pid_t pid)
{
	_cleanup_close_ int theirs = -1, mine = -1;
	int same = open_namespaces(pid, &theirs, &mine);
	if (same < 0)
		return NULL;
	if (same)
		return fopen(SHM_TABLE, "re");
	if (setns(theirs, CLONE_NEWIPC) < 0) /* this thread only, back at once */
		return NULL;
	FILE *f = fopen(SHM_TABLE, "re");
	int e = errno;
	if (setns(mine, CLONE_NEWIPC) < 0) {
		if (f)
			fclose(f);
		errno = EPERM;
		return NULL;
	}
	errno = e;
	return f;
}

static int find_segment(FILE *f, int32_t id, struct shm_seg *out)
{
	rewind(f);
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		struct shm_seg s;
		unsigned long long size, nattch;
		if (sscanf(line, "%d %d %o %llu %*u %*u %llu %u %u", &s.key, &s.id, &s.perms, &size, &nattch, &s.uid,
			   &s.gid) != 7 || s.id != id)
			continue;
		s.size = size, s.nattch = nattch;
		*out = s;
		return 0;
	}
	return -ENOENT;
}

static int refuse(char *err, size_t errlen, const struct fr_vma *v, const char *what)
{
	snprintf(err, errlen, "mapping %llx-%llx (%s) is %s: ferry cannot restore it yet", (unsigned long long)v->start,
		 (unsigned long long)v->end, v->path, what);
	return -EOPNOTSUPP;
}

static int add_shm(struct fr_image *img, const struct shm_seg *s)
{
	for (uint32_t i = 0; i < img->nshms; i++)
		if (img->shms[i].id == s->id)
			return 0;
	struct fr_shm *n = realloc(img->shms, (img->nshms + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	img->shms = n;
	uint32_t at = img->nshms++;
	while (at > 0 && img->shms[at - 1].id > s->id) { /* by ascending id */
		img->shms[at] = img->shms[at - 1];
		at--;
	}
	img->shms[at] = (struct fr_shm){.id = s->id, .key = (uint32_t)s->key, .size = s->size,
					.mode = s->perms & FR_SHM_MODES, .uid = s->uid, .gid = s->gid};
	return 0;
}

int capture_sysv_shm(pid_t pid, struct fr_image *img, char *err, size_t errlen)
{
	FILE *f = NULL;
	int r = 0;
	for (uint32_t i = 0; r == 0 && i < img->nvmas; i++) {
		const struct fr_vma *v = &img->vmas[i];
		if (v->kind != VMA_SYSV_SHM)
			continue;
		if (!f && !(f = open_table(pid))) {
			r = neg_errno();
			snprintf(err, errlen, "cannot read the System V shared memory of pid %d (%s): %s", pid, SHM_TABLE,
				 strerror(-r));
			break;
		}
		struct shm_seg s;
		int32_t id = fr_vma_object(v);
		if (find_segment(f, id, &s) < 0) {
			r = refuse(err, errlen, v, "System V shared memory not in its IPC namespace's table");
			break;
		}
		uint64_t mine = 0;
		for (uint32_t j = 0; j < img->nvmas; j++)
			mine += img->vmas[j].kind == VMA_SYSV_SHM && img->vmas[j].object == v->object;
		if (s.nattch != mine)
			r = refuse(err, errlen, v, "System V shared memory also attached by another process");
		else if (v->pgoff || v->end - v->start != ((s.size + SHM_PAGE - 1) & ~(SHM_PAGE - 1)))
			r = refuse(err, errlen, v, "System V shared memory attached in part (split or partly unmapped)");
		else
			r = add_shm(img, &s);
	}
	if (f)
		fclose(f);
	return r;
}

int sysv_shm_moving(pid_t pid, const struct fr_image *img, struct sysv_moved *out)
{
	*out = (struct sysv_moved){0};
	_cleanup_close_ int theirs = -1, mine = -1;
	if (!img->nshms || open_namespaces(pid, &theirs, &mine) != 1)
		return 0; /* elsewhere an id would name another segment: left alone */
	if (!(out->ids = calloc(img->nshms, sizeof(*out->ids))))
		return -ENOMEM;
	for (uint32_t i = 0; i < img->nshms; i++)
		if (!(img->shms[i].mode & SHM_DEST))
			out->ids[out->n++] = img->shms[i].id;
	return 0;
}

void sysv_shm_moved(const struct sysv_moved *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		shmctl(m->ids[i], IPC_RMID, NULL); /* marked: it goes when the killed process's mappings do */
}
