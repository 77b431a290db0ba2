/* fd_pipe.c — pipes and FIFOs made again in ferry. A pipe is made once for
 * all its records: pipe2 (in packet mode if an end was O_DIRECT), its size,
 * the buffered data written back, the first reading and writing records
 * given its two ends; a further description of an end (the pipe reopened
 * through /proc) is reopened through /proc/self/fd. A FIFO is opened by
 * its path, first with a reader-and-writer fd of ferry's so no open blocks;
 * its data is written back unless the FIFO already holds it: on a host
 * where the dumped copy still runs, frozen (a migration between namespaces
 * of one machine), the pipe is the same one and its data never left. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"
#include "internal.h"

static bool reads(const struct fr_file *f) { return (f->flags & O_ACCMODE) != O_WRONLY; }

/* The record of object id that carries its data (pipe_size set), or NULL. */
static const struct fr_file *data_record(const struct fr_image *img, uint32_t kind, uint64_t id)
{
	for (uint32_t j = 0; j < img->nfiles; j++)
		if (img->files[j].kind == kind && img->files[j].obj->id == id && img->files[j].obj->pipe_size)
			return &img->files[j];
	return NULL;
}

static int fail(char *err, size_t errlen, int e, const struct fr_file *f, const char *what)
{
	snprintf(err, errlen, "cannot make %s fd %d (%s) again: %s: %s", fr_file_kind_name(f->kind), f->fd, f->path,
		 what, strerror(-e));
	return e;
}

/* Size and data of the pipe whose writing end is wfd. */
static int fill_pipe(int wfd, const struct fr_file *d, char *err, size_t errlen)
{
	if (!d)
		return 0;
	if (fcntl(wfd, F_GETPIPE_SZ) != (int)d->obj->pipe_size && fcntl(wfd, F_SETPIPE_SZ, (int)d->obj->pipe_size) < 0)
		return fail(err, errlen, neg_errno(), d, "its size");
	int r = fd_write_queue(wfd, d->obj, false);
	return r < 0 ? fail(err, errlen, r, d, "writing its buffered data back") : 0;
}

/* A new description of the pipe end `end` (/proc/self/fd), for record f. */
static int reopen_end(int end, const struct fr_file *f, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", end);
	int fd = open(path, (int)(f->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
	return fd < 0 ? fail(err, errlen, neg_errno(), f, "reopening an end") : fd;
}

int fd_pipe_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen)
{
	const struct fr_file *f = &img->files[i];
	uint64_t id = f->obj->id;
	bool packet = false;
	for (uint32_t j = i; j < img->nfiles; j++)
		if (img->files[j].kind == FILE_PIPE && img->files[j].obj->id == id && (img->files[j].flags & O_DIRECT))
			packet = true;
	int p[2];
	if (pipe2(p, O_CLOEXEC | (packet ? O_DIRECT : 0)) < 0)
		return fail(err, errlen, neg_errno(), f, "pipe2");
	int r = fill_pipe(p[1], data_record(img, FILE_PIPE, id), err, errlen);
	bool rtaken = false, wtaken = false;
	for (uint32_t j = i; r == 0 && j < img->nfiles; j++) {
		const struct fr_file *g = &img->files[j];
		if (g->kind != FILE_PIPE || g->obj->id != id || g->share_of >= 0)
			continue;
		bool rd = reads(g);
		bool *taken = rd ? &rtaken : &wtaken;
		int end = rd ? p[0] : p[1];
		int nfd;
		if ((g->flags & O_ACCMODE) == O_RDWR || *taken)
			nfd = reopen_end(end, g, err, errlen);
		else if ((nfd = fcntl(end, F_DUPFD_CLOEXEC, 0)) < 0)
			nfd = fail(err, errlen, neg_errno(), g, "dup");
		*taken = true;
		if (nfd < 0)
			r = nfd;
		else
			r = fd_set_nonblock(fds[j] = nfd, g, err, errlen);
	}
	close(p[0]);
	close(p[1]);
	return r;
}

int fd_fifo_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen)
{
	const struct fr_file *f = &img->files[i];
	_cleanup_close_ int keeper = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (keeper < 0 || fstat(keeper, &st) < 0)
		return fail(err, errlen, neg_errno(), f, "opening it");
	if (!S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "cannot reopen fd %d: %s is not a FIFO here", f->fd, f->path);
		return -EINVAL;
	}
	int r = 0;
	for (uint32_t j = i; r == 0 && j < img->nfiles; j++) {
		const struct fr_file *g = &img->files[j];
		if (g->kind == FILE_FIFO && g->obj->id == f->obj->id && g->share_of < 0)
			r = file_reopen(g, &fds[j], err, errlen);
	}
	const struct fr_file *d = data_record(img, FILE_FIFO, f->obj->id);
	int held = 0;
	if (r == 0 && d && ioctl(keeper, FIONREAD, &held) < 0)
		r = fail(err, errlen, neg_errno(), f, "FIONREAD");
	if (r == 0 && d && held == 0)
		r = fill_pipe(keeper, d, err, errlen);
	else if (r == 0 && d && (uint32_t)held != d->obj->data_len) {
		snprintf(err, errlen, "FIFO fd %d (%s) holds %d bytes here, the image %u: another process has it open",
			 f->fd, f->path, held, d->obj->data_len);
		r = -EBUSY;
	}
	return r;
}
