/* fd_common.c — what the pipe and socket kinds of a restore share (see
 * fdobj.h): O_NONBLOCK, writing a queue back, socket options. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"

int fd_set_nonblock(int fd, const struct fr_file *f, char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);
	int want = (f->flags & O_NONBLOCK) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fl < 0 || (want != fl && fcntl(fd, F_SETFL, want) < 0)) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot set the flags of %s fd %d: %s", fr_file_kind_name(f->kind), f->fd,
			 strerror(-e));
		return e;
	}
	return 0;
}

/* Writes len bytes of p in one go (a message) or in as many as it takes. */
static int write_run(int fd, const uint8_t *p, size_t len, bool sock, bool message)
{
	size_t done = 0;
	do {
		ssize_t n = sock ? send(fd, p + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, p + done, len - done);
		if (n < 0)
			return neg_errno();
		if (message && (size_t)n != len)
			return -EMSGSIZE;
		done += (size_t)n;
	} while (done < len);
	return 0;
}

int fd_write_queue(int fd, const struct fr_fdobj *o, bool sock)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return neg_errno();
	int r = 0;
	if (o->nmsgs == 0 && o->data_len)
		r = write_run(fd, o->data, o->data_len, sock, false);
	for (uint32_t i = 0, at = 0; r == 0 && i < o->nmsgs; at += o->msg_len[i++])
		r = write_run(fd, o->data + at, o->msg_len[i], sock, true);
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl) < 0 && r == 0)
		r = neg_errno();
	return r;
}

int fd_apply_opts(int sk, const struct fr_file *f, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->obj->nopts; i++) {
		const struct fr_sockopt *o = &f->obj->opts[i];
		uint8_t val[FR_SOCKOPT_VAL_MAX];
		memcpy(val, o->val, o->len);
		if (o->level == SOL_SOCKET && (o->name == SO_RCVBUF || o->name == SO_SNDBUF)) {
			int v; /* the kernel doubles what it is given and reports the doubled size */
			memcpy(&v, val, sizeof(v));
			v /= 2;
			memcpy(val, &v, sizeof(v));
		}
		if (setsockopt(sk, o->level, o->name, val, o->len) < 0) {
			int e = neg_errno();
			snprintf(err, errlen, "cannot set option %d:%d of socket fd %d: %s", o->level, o->name, f->fd,
				 strerror(-e));
			return e;
		}
	}
	return 0;
}
