/* fd_unix.c — unix sockets made again in ferry. Two connected sockets of
 * the process become one socketpair (names of accepted sockets are not
 * kept: a pair has none); a socket whose peer had closed becomes a pair
 * whose other end is closed once the data is in. The data queued on each
 * end is sent back from the other end, message by message for datagrams
 * and packets, then the shutdowns are replayed. A listening or bound
 * socket binds its name again and listens with its backlog: an abstract
 * name as it was, a path after moving a socket file there aside until the
 * restore commits (see struct bound_name); anything but a socket at the
 * path is refused. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"

static int fail(char *err, size_t errlen, int e, const struct fr_file *f, const char *what)
{
	snprintf(err, errlen, "cannot make unix socket fd %d (%s) again: %s: %s", f->fd, f->path, what, strerror(-e));
	return e;
}

/* Options, O_NONBLOCK: what every socket of the record gets. */
static int finish_socket(int sk, const struct fr_file *f, char *err, size_t errlen)
{
	int r = fd_apply_opts(sk, f, err, errlen);
	return r < 0 ? r : fd_set_nonblock(sk, f, err, errlen);
}

/* The absolute path record f binds, if it binds one (not abstract, not a
 * connected socket: a pair has no name); a relative one is the process's
 * cwd's. */
static bool bound_path(const struct fr_image *img, const struct fr_file *f, char *path, size_t len)
{
	const struct fr_fdobj *o = f->obj;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	if (f->kind != FILE_UNIX || f->share_of >= 0 || o->state == FR_SOCK_CONNECTED || o->name_len <= off ||
	    o->name[off] == '\0')
		return false;
	int n = (int)strnlen((const char *)o->name + off, o->name_len - off);
	snprintf(path, len, "%s%s%.*s", o->name[off] == '/' ? "" : img->proc.cwd, o->name[off] == '/' ? "" : "/", n,
		 (const char *)o->name + off);
	return true;
}

/* Paths this restore bound, until it commits or is called off (one
 * restore per ferry process: receive serves each migration in a child). A
 * socket file already at a path (the dumped process's: during a migration
 * between namespaces of one machine its frozen copy still serves it) is
 * moved aside first, and put back if the restore is called off. */
struct bound_name {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char aside[PATH_MAX];
	bool had_old;
};
static struct bound_name *bound;
static size_t nbound;

/* Records path (and moves a socket file there aside) before it is bound. */
static int claim_path(const struct fr_image *img, const struct fr_file *f, const char *path, char *err,
		      size_t errlen)
{
	struct bound_name *nb = realloc(bound, (nbound + 1) * sizeof(*nb));
	if (!nb)
		return fail(err, errlen, -ENOMEM, f, path);
	bound = nb;
	struct bound_name *b = &bound[nbound];
	snprintf(b->path, sizeof(b->path), "%s", path);
	const char *slash = strrchr(path, '/');
	snprintf(b->aside, sizeof(b->aside), "%.*s/.ferry.%d.%d", (int)(slash - path), path, img->proc.pid, f->fd);
	struct stat st;
	b->had_old = lstat(path, &st) == 0;
	if (b->had_old && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot bind unix socket fd %d to %s: something other than a socket is there", f->fd,
			 path);
		return -EEXIST;
	}
	if (b->had_old && rename(path, b->aside) < 0)
		return fail(err, errlen, neg_errno(), f, "moving the socket file at its path aside");
	nbound++;
	return 0;
}

void fd_unix_commit_names(void)
{
	for (size_t i = 0; i < nbound; i++)
		if (bound[i].had_old)
			unlink(bound[i].aside);
	free(bound);
	bound = NULL;
	nbound = 0;
}

void fd_unix_abort_names(void)
{
	for (size_t i = 0; i < nbound; i++) {
		struct stat st;
		if (bound[i].had_old)
			rename(bound[i].aside, bound[i].path);
		else if (lstat(bound[i].path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(bound[i].path);
	}
	free(bound);
	bound = NULL;
	nbound = 0;
}

/* Binds sk to the record's name (if any) and listens if it listened. */
static int bind_listen(int sk, const struct fr_image *img, const struct fr_file *f, char *err, size_t errlen)
{
	const struct fr_fdobj *o = f->obj;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = o->name_len;
	char path[PATH_MAX];
	bool named = bound_path(img, f, path, sizeof(path));
	if (named) {
		if (strlen(path) >= sizeof(sa.sun_path))
			return fail(err, errlen, -ENAMETOOLONG, f, path);
		int r = claim_path(img, f, path, err, errlen);
		if (r < 0)
			return r;
		strcpy(sa.sun_path, path);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	} else if (len > offsetof(struct sockaddr_un, sun_path)) {
		memcpy(&sa, o->name, len); /* an abstract name */
	}
	if (len > offsetof(struct sockaddr_un, sun_path) && bind(sk, (struct sockaddr *)&sa, len) < 0)
		return fail(err, errlen, neg_errno(), f, "bind");
	if (named && chown(path, img->proc.uid[3], img->proc.gid[3]) < 0)
		return fail(err, errlen, neg_errno(), f, "chown of its socket file");
	if (o->state == FR_SOCK_LISTEN && listen(sk, (int)o->backlog) < 0)
		return fail(err, errlen, neg_errno(), f, "listen");
	return 0;
}

/* The owner record of the socket with this id, or -1. */
static int64_t record_of_socket(const struct fr_image *img, uint64_t id)
{
	for (uint32_t j = 0; id && j < img->nfiles; j++)
		if (img->files[j].kind == FILE_UNIX && img->files[j].obj->id == id && img->files[j].share_of < 0)
			return j;
	return -1;
}

/* sk's shutdowns: a shut sending side shuts the peer's receiving side too,
 * so only what the peer's did not cause is replayed on the receiving side. */
static int replay_shutdown(int sk, const struct fr_file *f, const struct fr_file *peer)
{
	uint32_t sd = f->obj->shutdown, caused = peer && (peer->obj->shutdown & FR_SHUT_SEND) ? FR_SHUT_RCV : 0;
	if ((sd & FR_SHUT_SEND) && shutdown(sk, SHUT_WR) < 0)
		return neg_errno();
	if ((sd & FR_SHUT_RCV & ~caused) && shutdown(sk, SHUT_RD) < 0)
		return neg_errno();
	return 0;
}

/* A connected pair: sv[0] is record i's, sv[1] its peer's (record p, or
 * none: closed once i's data is in). */
static int make_pair(const struct fr_image *img, uint32_t i, int64_t p, int *fds, char *err, size_t errlen)
{
	const struct fr_file *f = &img->files[i], *g = p >= 0 ? &img->files[p] : NULL;
	int sv[2];
	if (socketpair(AF_UNIX, (int)f->obj->type | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(err, errlen, neg_errno(), f, "socketpair");
	fds[i] = sv[0];
	int r = finish_socket(sv[0], f, err, errlen);
	if (r == 0 && g) {
		fds[p] = sv[1];
		r = finish_socket(sv[1], g, err, errlen);
	}
	if (r == 0 && (r = fd_write_queue(sv[1], f->obj, true)) < 0)
		r = fail(err, errlen, r, f, "sending its queued data back");
	if (r == 0 && g && (r = fd_write_queue(sv[0], g->obj, true)) < 0)
		r = fail(err, errlen, r, g, "sending its queued data back");
	if (r == 0 && (r = replay_shutdown(sv[0], f, g)) < 0)
		r = fail(err, errlen, r, f, "shutdown");
	if (r == 0 && g && (r = replay_shutdown(sv[1], g, f)) < 0)
		r = fail(err, errlen, r, g, "shutdown");
	if (!g)
		close(sv[1]);
	return r;
}

/* The datagrams queued on a bound, unconnected socket, sent to its name
 * again from a socket of ferry's (their senders' addresses are not kept). */
static int queue_to_name(int sk, const struct fr_file *f, char *err, size_t errlen)
{
	if (f->obj->type != SOCK_DGRAM || f->obj->name_len <= offsetof(struct sockaddr_un, sun_path)) {
		snprintf(err, errlen, "unix socket fd %d (%s) has data queued but neither a peer nor a name: not supported yet",
			 f->fd, f->path);
		return -EOPNOTSUPP;
	}
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	_cleanup_close_ int from = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = from < 0 || getsockname(sk, (struct sockaddr *)&sa, &len) < 0 || connect(from, (struct sockaddr *)&sa, len) < 0
			? neg_errno()
			: fd_write_queue(from, f->obj, true);
	return r < 0 ? fail(err, errlen, r, f, "sending its queued datagrams back") : 0;
}

int fd_unix_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen)
{
	const struct fr_file *f = &img->files[i];
	if (f->obj->state == FR_SOCK_CONNECTED)
		return make_pair(img, i, record_of_socket(img, f->obj->peer), fds, err, errlen);
	int sk = socket(AF_UNIX, (int)f->obj->type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return fail(err, errlen, neg_errno(), f, "socket");
	fds[i] = sk;
	int r = finish_socket(sk, f, err, errlen);
	if (r == 0)
		r = bind_listen(sk, img, f, err, errlen);
	return r == 0 && f->obj->data_len ? queue_to_name(sk, f, err, errlen) : r;
}
