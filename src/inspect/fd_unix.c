/* fd_unix.c — unix sockets of a process being captured. The kernel's
 * sock_diag interface (NETLINK_SOCK_DIAG, unix_diag) says what no socket
 * call does: the peer's inode (which fd of the process the other end of a
 * pair is), the shutdown state, and a listener's queue of connections not
 * accepted yet. It answers for the network namespace the netlink socket was
 * made in, so ferry makes it in the process's (setns of one thread, and
 * back). The queued data is read with MSG_PEEK from offset 0 (SO_PEEK_OFF)
 * one message at a time for datagrams and packets, so nothing is consumed;
 * the process's own peek offset is put back. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"

#define DIAG_REPLY_MAX 8192       /* one unix_diag_msg with its name, peer, queue and shutdown attributes */
#define PEEK_BUF (4u << 20)       /* the largest datagram: net.core.wmem_max is far below */

/* A netlink socket made in pid's network namespace. */
static int diag_open(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	_cleanup_close_ int theirs = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int ours = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct stat a, b;
	if (theirs < 0 || ours < 0 || fstat(theirs, &a) < 0 || fstat(ours, &b) < 0)
		return neg_errno();
	bool other = a.st_ino != b.st_ino || a.st_dev != b.st_dev;
	if (other && setns(theirs, CLONE_NEWNET) < 0)
		return neg_errno();
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int e = sk < 0 ? neg_errno() : 0;
	if (other && setns(ours, CLONE_NEWNET) < 0)
		e = -EIO; /* cannot happen: we came from there */
	if (e < 0 && sk >= 0)
		close(sk);
	return e < 0 ? e : sk;
}

struct unix_diag_info {
	uint8_t state;
	uint32_t peer;    /* peer inode, 0 if none */
	uint32_t rqueue;  /* listener: connections waiting; else bytes queued */
	uint32_t wqueue;  /* listener: the backlog */
	uint8_t shutdown; /* sk_shutdown */
};

/* unix_diag's answer about the socket with inode ino. */
static int diag_query(struct fd_scan *sc, ino_t ino, struct unix_diag_info *info)
{
	if (sc->diag < 0 && (sc->diag = diag_open(sc->pid)) < 0) {
		int e = sc->diag;
		sc->diag = -1;
		return e;
	}
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req req;
	} q = {
		.nh = {.nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
		.req = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			.udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, .udiag_cookie = {~0u, ~0u}},
	};
	if (send(sc->diag, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		return neg_errno();
	_Alignas(struct nlmsghdr) uint8_t reply[DIAG_REPLY_MAX];
	ssize_t n = recv(sc->diag, reply, sizeof(reply), 0);
	if (n < 0)
		return neg_errno();
	const struct nlmsghdr *nh = (const void *)reply;
	if ((size_t)n < sizeof(*nh) || nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > (size_t)n)
		return -EIO;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *ne = NLMSG_DATA(nh);
		return ne->error ? ne->error : -EIO;
	}
	if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
		return -EIO;
	const struct unix_diag_msg *m = NLMSG_DATA(nh);
	*info = (struct unix_diag_info){.state = m->udiag_state};
	const uint8_t *at = (const uint8_t *)(m + 1), *end = (const uint8_t *)nh + nh->nlmsg_len;
	for (const struct nlattr *a; at + sizeof(*a) <= end; at += (size_t)NLA_ALIGN(a->nla_len)) {
		a = (const void *)at;
		if (a->nla_len < sizeof(*a) || a->nla_len > (size_t)(end - at))
			break;
		const void *val = a + 1;
		size_t vlen = a->nla_len - sizeof(*a);
		if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_PEER && vlen >= 4)
			memcpy(&info->peer, val, 4);
		else if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_RQLEN && vlen >= sizeof(struct unix_diag_rqlen)) {
			const struct unix_diag_rqlen *rq = val;
			info->rqueue = rq->udiag_rqueue, info->wqueue = rq->udiag_wqueue;
		} else if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_SHUTDOWN && vlen >= 1)
			info->shutdown = *(const uint8_t *)val;
	}
	return 0;
}

int fd_unix_describe(struct fd_scan *sc, struct fr_file *f, int sk, ino_t ino, char *err, size_t errlen)
{
	struct fr_fdobj *o = f->obj;
	f->kind = FILE_UNIX;
	o->id = ino;
	o->family = AF_UNIX;
	int type = 0;
	socklen_t l = sizeof(type);
	struct unix_diag_info di;
	int r = getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ? neg_errno() : diag_query(sc, ino, &di);
	if (r < 0) {
		snprintf(err, errlen, "cannot read unix socket fd %d (%s) through sock_diag: %s", f->fd, f->path,
			 strerror(-r));
		return r;
	}
	o->type = (uint32_t)type;
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	if (getsockname(sk, (struct sockaddr *)&sa, &sl) == 0 && sl > sizeof(sa.sun_family) && sl <= sizeof(sa)) {
		memcpy(o->name, &sa, sl);
		o->name_len = sl;
	}
	o->shutdown = di.shutdown & (FR_SHUT_RCV | FR_SHUT_SEND);
	if (di.state == TCP_LISTEN) {
		if (di.rqueue) {
			snprintf(err, errlen,
				 "listening unix socket fd %d (%s) holds %u connection%s not accepted yet: not supported yet",
				 f->fd, f->path, di.rqueue, di.rqueue == 1 ? "" : "s");
			return -EOPNOTSUPP;
		}
		o->state = FR_SOCK_LISTEN;
		o->backlog = di.wqueue;
	} else if (di.peer || di.state == TCP_ESTABLISHED) {
		o->state = FR_SOCK_CONNECTED;
		o->peer = di.peer;
	} else if (di.rqueue && (o->type != SOCK_DGRAM || !o->name_len)) {
		snprintf(err, errlen, "unix socket fd %d (%s) has data queued but neither a peer nor a name: not supported yet",
			 f->fd, f->path);
		return -EOPNOTSUPP;
	} else { /* a bound datagram socket's queue is sent to its name again on restore */
		o->state = FR_SOCK_UNCONNECTED;
	}
	return fd_sock_read_opts(sk, o, err, errlen);
}

/* One message (or, for a stream, a run of bytes) peeked at the socket's
 * peek offset, which then moves past it; 0 once nothing is left (an empty
 * datagram reads as 0 too: the ones behind it are checked for with
 * SIOCINQ by the caller). */
static ssize_t peek_one(int sk, uint8_t *buf, size_t len, bool *has_fds)
{
	union {
		struct cmsghdr align;
		uint8_t space[CMSG_SPACE(sizeof(int) * 64)];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN ? 0 : neg_errno();
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			*has_fds = true;
			const int *fds = (const int *)CMSG_DATA(c);
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		}
	return mh.msg_flags & MSG_TRUNC ? -EMSGSIZE : n;
}

/* Peeks everything queued on sk from offset 0 into o. */
static int peek_all(int sk, struct fr_fdobj *o, bool *has_fds)
{
	bool stream = o->type == SOCK_STREAM;
	uint8_t *buf = malloc(PEEK_BUF);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	uint32_t cap = 0;
	for (;;) {
		ssize_t n = peek_one(sk, buf, PEEK_BUF, has_fds);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		if ((uint64_t)o->data_len + (uint64_t)n > FR_QUEUE_MAX || o->nmsgs >= FR_QUEUE_MSGS_MAX) {
			r = -E2BIG;
			break;
		}
		uint8_t *nd = realloc(o->data, o->data_len + (size_t)n);
		if (!nd) {
			r = -ENOMEM;
			break;
		}
		o->data = nd;
		memcpy(o->data + o->data_len, buf, (size_t)n);
		o->data_len += (uint32_t)n;
		if (!stream) {
			if (o->nmsgs == cap) {
				cap = cap ? cap * 2 : 16;
				uint32_t *nl = realloc(o->msg_len, cap * sizeof(*nl));
				if (!nl) {
					r = -ENOMEM;
					break;
				}
				o->msg_len = nl;
			}
			o->msg_len[o->nmsgs++] = (uint32_t)n;
		}
	}
	free(buf);
	return r;
}

static int refuse_fds_in_flight(const struct fr_file *f, char *err, size_t errlen)
{
	snprintf(err, errlen, "unix socket fd %d (%s) has file descriptors queued in it (SCM_RIGHTS): not supported yet",
		 f->fd, f->path);
	return -EOPNOTSUPP;
}

int fd_unix_check_head(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen)
{
	if (f->obj->state == FR_SOCK_LISTEN)
		return 0;
	int sk = fd_sock_take(sc, f->fd, err, errlen);
	if (sk < 0)
		return sk;
	int off = 0;
	socklen_t l = sizeof(off);
	bool has_fds = false;
	uint8_t byte;
	/* a peek offset the program set would move: then wait for the freeze */
	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, &l) == 0 && off < 0)
		peek_one(sk, &byte, sizeof(byte), &has_fds);
	close(sk);
	return has_fds ? refuse_fds_in_flight(f, err, errlen) : 0;
}

int fd_unix_read_queue(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen)
{
	struct fr_fdobj *o = f->obj;
	if (o->state == FR_SOCK_LISTEN)
		return 0;
	int sk = fd_sock_take(sc, f->fd, err, errlen);
	if (sk < 0)
		return sk;
	int old = -1, zero = 0;
	socklen_t l = sizeof(old);
	bool has_fds = false;
	int r = getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &l) < 0 ||
				setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0
			? neg_errno()
			: peek_all(sk, o, &has_fds);
	int inq = 0;
	if (r == 0 && o->type != SOCK_DGRAM && ioctl(sk, SIOCINQ, &inq) == 0 && (uint32_t)inq != o->data_len)
		r = -ENOTSUP; /* an empty packet stopped the peeking */
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old)) < 0 && r == 0)
		r = neg_errno();
	close(sk);
	if (r == 0 && has_fds)
		return refuse_fds_in_flight(f, err, errlen);
	if (r == -ENOTSUP)
		snprintf(err, errlen, "unix socket fd %d (%s): %d bytes queued, %u could be read: an empty packet in its "
			 "queue is not supported yet", f->fd, f->path, inq, o->data_len);
	else if (r < 0)
		snprintf(err, errlen, "cannot read the data queued on unix socket fd %d (%s): %s", f->fd, f->path,
			 strerror(-r));
	return r;
}
