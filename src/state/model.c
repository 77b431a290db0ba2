/* model.c — lifetime helpers and names for the state model (model.h). */
#include "model.h"

#include <stdlib.h>

void fr_image_free(struct fr_image *img)
{
	for (uint32_t i = 0; i < img->nthreads; i++) {
		free(img->threads[i].xstate);
		free(img->threads[i].pending);
	}
	free(img->proc.pending);
	for (uint32_t i = 0; i < img->nvmas; i++)
		free(img->vmas[i].path);
	for (uint32_t i = 0; i < img->nfiles; i++)
		fr_file_free(&img->files[i]);
	free(img->threads);
	free(img->vmas);
	free(img->files);
	free(img->timers);
	free(img->shms);
	free(img->locks);
	free(img->proc.groups);
	free(img->proc.cwd);
	free(img->proc.mm.exe);
	*img = (struct fr_image){0};
}

void fr_file_free(struct fr_file *f)
{
	for (uint32_t i = 0; i < f->nwatches; i++)
		free(f->watches[i].path);
	free(f->watches);
	for (uint32_t i = 0; i < f->nextents; i++)
		free(f->extents[i].data);
	free(f->extents);
	free(f->path);
	fr_fdobj_free(f->obj);
	f->obj = NULL;
	f->watches = NULL;
	f->nwatches = 0;
	f->extents = NULL;
	f->nextents = 0;
	f->path = NULL;
}

void fr_fdobj_free(struct fr_fdobj *o)
{
	if (!o)
		return;
	free(o->data);
	free(o->msg_len);
	free(o);
}

const char *fr_vma_kind_name(uint32_t kind)
{
	switch (kind) {
	case VMA_ANON: return "anonymous";
	case VMA_FILE_PRIVATE: return "private file";
	case VMA_FILE_SHARED: return "shared file";
	case VMA_SHARED_ANON: return "shared anonymous";
	case VMA_SYSV_SHM: return "System V shared memory";
	case VMA_VDSO: return "vdso";
	case VMA_VVAR: return "vvar";
	case VMA_VVAR_VCLOCK: return "vvar_vclock";
	}
	return "unknown";
}

const char *fr_file_kind_name(uint32_t kind)
{
	switch (kind) {
	case FILE_REG: return "regular file";
	case FILE_DIR: return "directory";
	case FILE_PATH: return "O_PATH";
	case FILE_CHR: return "character device";
	case FILE_TTY: return "terminal";
	case FILE_EVENTFD: return "eventfd";
	case FILE_EPOLL: return "epoll";
	case FILE_TIMERFD: return "timerfd";
	case FILE_SIGNALFD: return "signalfd";
	case FILE_INOTIFY: return "inotify";
	case FILE_MEMFD: return "memfd";
	case FILE_GHOST: return "deleted file";
	case FILE_PIPE: return "pipe";
	case FILE_FIFO: return "FIFO";
	case FILE_UNIX: return "unix socket";
	case FILE_INET: return "inet socket";
	case FILE_EXTERNAL: return "external";
	}
	return "unknown";
}

bool fr_vma_lazy_at(const struct fr_vma *vmas, uint32_t n, uint32_t i)
{
	if (vmas[i].kind != VMA_ANON || !(vmas[i].prot & PROT_WRITE))
		return false;
	if ((vmas[i].attrs & FR_VMA_LOCKED) && !(vmas[i].attrs & FR_VMA_LOCKONFAULT))
		return false; /* mlock fills every page at once: before any fault could be served */
	uint32_t lo = i, hi = i;
	while (lo > 0 && vmas[lo - 1].kind == VMA_ANON && vmas[lo - 1].end == vmas[lo].start)
		lo--;
	while (hi + 1 < n && vmas[hi + 1].kind == VMA_ANON && vmas[hi + 1].start == vmas[hi].end)
		hi++;
	for (uint32_t k = lo; k <= hi; k++)
		if ((vmas[k].prot & PROT_READ) && !(vmas[k].prot & PROT_WRITE))
			return false;
	return true;
}
