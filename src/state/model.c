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
	for (uint32_t i = 0; i < img->nfiles; i++) {
		free(img->files[i].path);
		fr_fdobj_free(img->files[i].obj);
	}
	free(img->threads);
	free(img->vmas);
	free(img->files);
	free(img->proc.groups);
	free(img->proc.cwd);
	free(img->proc.mm.exe);
	*img = (struct fr_image){0};
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
	case FILE_PIPE: return "pipe";
	case FILE_FIFO: return "FIFO";
	case FILE_UNIX: return "unix socket";
	case FILE_INET: return "inet socket";
	case FILE_EXTERNAL: return "external";
	}
	return "unknown";
}
