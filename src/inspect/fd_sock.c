/* fd_sock.c — what the socket kinds of a capture share: ferry takes its own
 * copy of the process's socket (pidfd_getfd: the same open file
 * description, so getsockname, getsockopt and MSG_PEEK see the process's
 * socket), asks its family and hands it to fd_unix.c or fd_inet.c; and the
 * socket options that differ from those of a fresh socket of the same
 * family, type and protocol (the list is codec_fdobj.c's). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "../state/codec.h"
#include "fdobj.h"

void fd_scan_end(struct fd_scan *sc)
{
	if (sc->pidfd >= 0)
		close(sc->pidfd);
	if (sc->diag >= 0)
		close(sc->diag);
	sc->pidfd = sc->diag = -1;
}

int fd_sock_take(struct fd_scan *sc, int fd, char *err, size_t errlen)
{
	if (sc->pidfd < 0 && (sc->pidfd = (int)syscall(SYS_pidfd_open, sc->pid, 0)) < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot open a pidfd of pid %d: %s", sc->pid, strerror(-e));
		return e;
	}
	int sk = (int)syscall(SYS_pidfd_getfd, sc->pidfd, fd, 0);
	if (sk < 0 && errno == EBADF)
		return -ENOENT; /* closed meanwhile (the process runs during the precheck) */
	if (sk < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot take a copy of socket fd %d of pid %d: %s", fd, sc->pid, strerror(-e));
		return e;
	}
	return sk;
}

/* Does this option apply to sockets of o's family and protocol? */
static bool opt_applies(const struct fr_sockopt_kind *k, const struct fr_fdobj *o)
{
	switch (k->level) {
	case SOL_SOCKET: return o->family == AF_UNIX ? k->name != SO_BROADCAST && k->name != SO_DONTROUTE : true;
	case IPPROTO_TCP: return o->protocol == IPPROTO_TCP;
	case IPPROTO_IP: return o->family == AF_INET;
	case IPPROTO_IPV6: return o->family == AF_INET6;
	}
	return false;
}

int fd_sock_read_opts(int sk, struct fr_fdobj *o, char *err, size_t errlen)
{
	_cleanup_close_ int fresh = socket((int)o->family, (int)o->type | SOCK_CLOEXEC, (int)o->protocol);
	if (fresh < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot make a socket (family %u, type %u) to compare options with: %s", o->family,
			 o->type, strerror(-e));
		return e;
	}
	o->nopts = 0;
	for (size_t i = 0; i < fr_sockopt_count && o->nopts < FR_SOCKOPTS_MAX; i++) {
		const struct fr_sockopt_kind *k = &fr_sockopt_list[i];
		if (!opt_applies(k, o))
			continue;
		uint8_t have[FR_SOCKOPT_VAL_MAX] = {0}, def[FR_SOCKOPT_VAL_MAX] = {0};
		socklen_t hl = k->len, dl = k->len;
		if (getsockopt(sk, k->level, k->name, have, &hl) < 0 || hl != k->len)
			continue; /* not an option of this socket */
		if (getsockopt(fresh, k->level, k->name, def, &dl) == 0 && dl == hl && memcmp(have, def, hl) == 0)
			continue;
		struct fr_sockopt *so = &o->opts[o->nopts++];
		*so = (struct fr_sockopt){.level = k->level, .name = k->name, .len = k->len};
		memcpy(so->val, have, k->len);
	}
	return 0;
}

int fd_sock_describe(struct fd_scan *sc, struct fr_file *f, ino_t ino, char *err, size_t errlen)
{
	int sk = fd_sock_take(sc, f->fd, err, errlen);
	if (sk < 0)
		return sk;
	int domain = -1;
	socklen_t l = sizeof(domain);
	int r = getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ? neg_errno() : 0;
	f->pos = 0;
	if (r == 0 && !(f->obj = calloc(1, sizeof(*f->obj))))
		r = -ENOMEM;
	if (r < 0) {
		snprintf(err, errlen, "cannot read socket fd %d (%s): %s", f->fd, f->path, strerror(-r));
	} else if (domain == AF_UNIX) {
		r = fd_unix_describe(sc, f, sk, ino, err, errlen);
	} else if (domain == AF_INET || domain == AF_INET6) {
		r = fd_inet_describe(f, sk, err, errlen);
	} else {
		snprintf(err, errlen, "fd %d (%s) is a socket of family %d: ferry restores unix, TCP and UDP sockets only",
			 f->fd, f->path, domain);
		r = -EOPNOTSUPP;
	}
	close(sk);
	return r;
}
