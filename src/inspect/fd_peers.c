/* fd_peers.c — the pass over a captured fd table that ties the ends of one
 * object together: every pipe must have both a reading and a writing end in
 * the process, every connected unix socket its peer (and be its peer's);
 * else the fd is refused, naming how to declare it external. Then, once the
 * process is frozen, the data queued in each object is read onto one
 * record: a pipe's onto its lowest reading fd, a FIFO's onto its lowest fd,
 * a socket's onto its own. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "fdobj.h"

static bool reads(const struct fr_file *f) { return (f->flags & O_ACCMODE) != O_WRONLY; }
static bool writes(const struct fr_file *f) { return (f->flags & O_ACCMODE) != O_RDONLY; }

static int refuse_outside(const struct fr_file *f, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "fd %d (%s) is %s outside the process: declare it with --external fd:%d (restore hands it a "
		 "replacement with --inherit-fd %d:FD)",
		 f->fd, f->path, what, f->fd, f->fd);
	return -EOPNOTSUPP;
}

/* The first record in files[0..n) of the object id, of kind, or NULL. */
static const struct fr_file *find_obj(const struct fr_file *files, size_t n, uint32_t kind, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (files[i].kind == kind && files[i].obj->id == id)
			return &files[i];
	return NULL;
}

static int check_pipe(const struct fr_file *files, size_t n, const struct fr_file *f, char *err, size_t errlen)
{
	bool r = false, w = false;
	for (size_t i = 0; i < n; i++)
		if (files[i].kind == FILE_PIPE && files[i].obj->id == f->obj->id) {
			r |= reads(&files[i]);
			w |= writes(&files[i]);
		}
	if (!r)
		return refuse_outside(f, "a pipe whose reading end is", err, errlen);
	if (!w)
		return refuse_outside(f, "a pipe whose writing end is", err, errlen);
	return 0;
}

static int check_unix(const struct fr_file *files, size_t n, const struct fr_file *f, char *err, size_t errlen)
{
	if (f->obj->state != FR_SOCK_CONNECTED || !f->obj->peer)
		return 0;
	const struct fr_file *p = find_obj(files, n, FILE_UNIX, f->obj->peer);
	if (!p)
		return refuse_outside(f, "a unix socket connected to a socket", err, errlen);
	if (p->obj->peer != f->obj->id) {
		snprintf(err, errlen, "unix socket fd %d is connected to fd %d, which is not connected back: not supported yet",
			 f->fd, p->fd);
		return -EOPNOTSUPP;
	}
	return 0;
}

int fd_objects_check(const struct fr_file *files, size_t n, char *err, size_t errlen)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (files[i].kind == FILE_PIPE)
			r = check_pipe(files, n, &files[i], err, errlen);
		else if (files[i].kind == FILE_UNIX)
			r = check_unix(files, n, &files[i], err, errlen);
	}
	return r;
}

/* Is files[i] the record that carries its object's queue? */
static bool carries_queue(const struct fr_file *files, size_t i)
{
	const struct fr_file *f = &files[i];
	if (f->share_of >= 0)
		return false;
	if (f->kind == FILE_UNIX)
		return true;
	if (f->kind != FILE_PIPE && f->kind != FILE_FIFO)
		return false;
	if (f->kind == FILE_PIPE && !reads(f))
		return false;
	for (size_t j = 0; j < i; j++)
		if (files[j].kind == f->kind && files[j].obj->id == f->obj->id && files[j].share_of < 0 &&
		    (f->kind == FILE_FIFO || reads(&files[j])))
			return false;
	return true;
}

int fd_objects_read_queues(struct fd_scan *sc, struct fr_file *files, size_t n, char *err, size_t errlen)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!carries_queue(files, i))
			continue;
		if (files[i].kind == FILE_UNIX)
			r = fd_unix_read_queue(sc, &files[i], err, errlen);
		else
			r = fd_pipe_read_queue(sc, &files[i], err, errlen);
	}
	return r;
}

int fd_objects_check_heads(struct fd_scan *sc, struct fr_file *files, size_t n, char *err, size_t errlen)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (files[i].kind == FILE_UNIX && carries_queue(files, i))
			r = fd_unix_check_head(sc, &files[i], err, errlen);
	return r;
}
