/* vma_objects.c — mappings of memfds and of files deleted while mapped.
 * Each is tied to the image's record of the same object (st_dev, st_ino):
 * the FILE_MEMFD or FILE_GHOST record of an fd the process still has, or,
 * when no fd holds it any more, a record of its own (mapping_only, on a
 * number above the process's fds) carrying the object's name, size, seals
 * or mode and contents as an fd's record would, read through
 * /proc/PID/map_files. The restore makes each object once and maps it
 * wherever the process had it, so writes through the mappings and the fd
 * keep meeting in one object; a private mapping's own (COW'd) pages travel
 * as pages, like those of any private file mapping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "capture.h"
#include "fd_kinds.h"

/* An object some record of the image holds. */
struct object_key {
	dev_t dev;
	ino_t ino;
	int32_t fd;
};

struct object_keys {
	struct object_key *v;
	size_t n, cap;
};

static int keys_add(struct object_keys *k, const struct stat *st, int32_t fd)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? 2 * k->cap : 8;
		struct object_key *nv = realloc(k->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		k->v = nv;
		k->cap = ncap;
	}
	k->v[k->n++] = (struct object_key){.dev = st->st_dev, .ino = st->st_ino, .fd = fd};
	return 0;
}

static int32_t keys_find(const struct object_keys *k, const struct stat *st)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].dev == st->st_dev && k->v[i].ino == st->st_ino)
			return k->v[i].fd;
	return -1;
}

/* The objects of the memfd and deleted-file fds (owners of their open
 * file description: the others name the same object). */
static int fd_objects(pid_t pid, const struct fr_image *img, struct object_keys *k)
{
	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct fr_file *f = &img->files[i];
		if ((f->kind != FILE_MEMFD && f->kind != FILE_GHOST) || f->share_of >= 0)
			continue;
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, f->fd);
		if (stat(path, &st) < 0)
			return neg_errno();
		int r = keys_add(k, &st, f->fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A record for the object only v maps, on number fd. */
static int add_mapping_only(pid_t pid, const struct capture_opts *opts, struct fr_image *img, const struct fr_vma *v,
			    int32_t fd, char *err, size_t errlen)
{
	struct fr_file *nf = realloc(img->files, (img->nfiles + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	img->files = nf;
	struct fr_file *f = &img->files[img->nfiles];
	*f = (struct fr_file){.fd = fd, .flags = O_RDWR, .cloexec = true, .share_of = -1, .mapping_only = true};
	int r = mapped_object_describe(pid, v, opts->ghost_limit, !opts->checks_only, f, err, errlen);
	if (r < 0) {
		fr_file_free(f);
		return r;
	}
	img->nfiles++;
	return 0;
}

int capture_vma_objects(pid_t pid, const struct capture_opts *opts, struct fr_image *img, char *err, size_t errlen)
{
	struct object_keys k = {0};
	int r = fd_objects(pid, img, &k);
	if (r < 0)
		snprintf(err, errlen, "cannot read the memfds and deleted files of pid %d: %s", pid, strerror(-r));
	int32_t next_fd = img->nfiles ? img->files[img->nfiles - 1].fd + 1 : 0;
	for (uint32_t i = 0; r == 0 && i < img->nvmas; i++) {
		struct fr_vma *v = &img->vmas[i];
		if (v->object != FR_VMA_OBJECT_UNRESOLVED)
			continue;
		char path[96];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
			 (unsigned long long)v->end);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT && opts->checks_only)
				continue; /* the running process unmapped it meanwhile */
			r = neg_errno();
			snprintf(err, errlen, "cannot open the object of mapping %llx-%llx (%s): %s",
				 (unsigned long long)v->start, (unsigned long long)v->end, v->path, strerror(-r));
			break;
		}
		int32_t fd = keys_find(&k, &st);
		if (fd < 0 && (r = add_mapping_only(pid, opts, img, v, next_fd, err, errlen)) == 0 &&
		    (r = keys_add(&k, &st, next_fd)) == 0)
			fd = next_fd++;
		if (r == 0)
			v->object = (uint32_t)fd + 1;
	}
	free(k.v);
	return r;
}

void vmas_drop_objects(struct fr_image *img)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		if (img->vmas[i].object) {
			free(img->vmas[i].path);
			continue;
		}
		img->vmas[n++] = img->vmas[i];
	}
	img->nvmas = n;
}
