/* fd_pipe.c — pipes and FIFOs of a process being captured: which pipe an
 * fd is an end of (its inode), and the data buffered in it, read without
 * consuming it: the pipe is opened again through /proc/PID/fd (a new reader
 * of the same pipe), tee(2) duplicates its buffers into a pipe of ferry's
 * of the same size, and ferry reads that one. The process's pipe is left as
 * it was, whatever happens next to the dump. Packet-mode buffers (O_DIRECT)
 * come out of the copy one write at a time: their lengths are kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"

int fd_pipe_describe(struct fr_file *f, bool fifo, ino_t ino)
{
	f->kind = fifo ? FILE_FIFO : FILE_PIPE;
	f->pos = 0;
	if (!(f->obj = calloc(1, sizeof(*f->obj))))
		return -ENOMEM;
	f->obj->id = ino;
	return 0;
}

/* Appends one read of the copy to o (data and, from the second on, the
 * message lengths). */
static int add_chunk(struct fr_fdobj *o, uint32_t len, uint32_t *cap)
{
	if (o->nmsgs == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		uint32_t *nl = realloc(o->msg_len, *cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		o->msg_len = nl;
	}
	o->msg_len[o->nmsgs++] = len;
	o->data_len += len;
	return 0;
}

/* tee's copy of src's `avail` bytes, read from copy[0] into o. */
static int read_copy(int src, int copy[2], int avail, struct fr_fdobj *o)
{
	int done = 0;
	while (done < avail) {
		ssize_t n = tee(src, copy[1], (size_t)(avail - done), SPLICE_F_NONBLOCK);
		if (n <= 0)
			return n < 0 ? neg_errno() : -EAGAIN;
		done += (int)n;
	}
	if (!(o->data = malloc((size_t)avail)))
		return -ENOMEM;
	uint32_t cap = 0;
	while (o->data_len < (uint32_t)avail) {
		ssize_t n = read(copy[0], o->data + o->data_len, (size_t)avail - o->data_len);
		if (n <= 0)
			return n < 0 ? neg_errno() : -EIO;
		int r = add_chunk(o, (uint32_t)n, &cap);
		if (r < 0)
			return r;
	}
	if (o->nmsgs == 1) { /* one read took it all: a byte stream */
		free(o->msg_len);
		o->msg_len = NULL;
		o->nmsgs = 0;
	}
	return 0;
}

int fd_pipe_read_queue(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", sc->pid, f->fd);
	_cleanup_close_ int src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int size = src < 0 ? -1 : fcntl(src, F_GETPIPE_SZ), avail = 0;
	int r = size < 0 || ioctl(src, FIONREAD, &avail) < 0 ? neg_errno() : 0;
	if (r < 0) {
		snprintf(err, errlen, "cannot read the buffer of %s fd %d (%s): %s", fr_file_kind_name(f->kind), f->fd,
			 f->path, strerror(-r));
		return r;
	}
	f->obj->pipe_size = (uint32_t)size;
	if (avail == 0)
		return 0;
	int copy[2] = {-1, -1};
	if (pipe2(copy, O_CLOEXEC | O_NONBLOCK) < 0)
		r = neg_errno();
	else if (fcntl(copy[1], F_SETPIPE_SZ, size) < size)
		r = -EPERM; /* a pipe larger than fs.pipe-max-size: only CAP_SYS_RESOURCE makes one */
	if (r == 0)
		r = read_copy(src, copy, avail, f->obj);
	if (r < 0)
		snprintf(err, errlen, "cannot copy the %d bytes buffered in %s fd %d (%s, %d-byte pipe): %s", avail,
			 fr_file_kind_name(f->kind), f->fd, f->path, size, strerror(-r));
	if (copy[0] >= 0) {
		close(copy[0]);
		close(copy[1]);
	}
	return r;
}
