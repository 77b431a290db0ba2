/* join.c — see join.h. */
#include "join.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"

#define PEEK_RETRY_US 1000 /* a prefix split over segments: look again after this */

/* The abstract socket name of a token: "\0ferry-join-<hex>". */
static socklen_t join_name(const uint8_t token[JOIN_TOKEN_LEN], struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "ferry-join-");
	for (int i = 0; i < JOIN_TOKEN_LEN; i++)
		n += snprintf(sa->sun_path + 1 + n, sizeof(sa->sun_path) - 1 - (size_t)n, "%02x", token[i]);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int join_open(struct join_point *jp)
{
	jp->fd = -1;
	if (getrandom(jp->token, sizeof(jp->token), 0) != (ssize_t)sizeof(jp->token))
		return errno ? neg_errno() : -EIO;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return neg_errno();
	struct sockaddr_un sa;
	socklen_t len = join_name(jp->token, &sa);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 4) < 0) {
		int e = neg_errno();
		close(fd);
		return e;
	}
	jp->fd = fd;
	return 0;
}

/* The one fd a hand-over carries (its kind in the byte), from a process of
 * this user only. */
static int take_fd(int c, enum join_kind *kind)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return neg_errno();
	if (cred.uid != geteuid())
		return -EPERM;
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) != 1)
		return -EPROTO;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	if (byte != JOIN_URGENT && byte != JOIN_RESUME) {
		close(fd);
		return -EPROTO;
	}
	*kind = (enum join_kind)byte;
	return fd;
}

int join_wait(struct join_point *jp, int timeout_ms, enum join_kind *kind)
{
	struct pollfd p = {.fd = jp->fd, .events = POLLIN};
	int n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return neg_errno();
	if (n == 0)
		return -ETIMEDOUT;
	int c = accept4(jp->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return neg_errno();
	int fd = take_fd(c, kind);
	close(c);
	return fd;
}

void join_close(struct join_point *jp)
{
	if (jp->fd >= 0)
		close(jp->fd);
	jp->fd = -1;
}

int join_peek(int fd, uint8_t token[JOIN_TOKEN_LEN], enum join_kind *kind, int timeout_ms)
{
	uint8_t pre[JOIN_MAGIC_LEN + 1 + JOIN_TOKEN_LEN];
	double deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		int n = poll(&p, 1, left);
		if (n < 0 && errno != EINTR)
			return neg_errno();
		if (n <= 0)
			continue;
		ssize_t got = recv(fd, pre, sizeof(pre), MSG_PEEK | MSG_DONTWAIT);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			return neg_errno();
		size_t have = got > 0 ? (size_t)got : 0;
		/* not a join as soon as the bytes differ from the magic */
		if (memcmp(pre, JOIN_MAGIC, MIN(have, (size_t)JOIN_MAGIC_LEN)) != 0)
			return 0;
		if (have == sizeof(pre))
			break;
		usleep(PEEK_RETRY_US);
	}
	if (recv(fd, pre, sizeof(pre), MSG_WAITALL) != (ssize_t)sizeof(pre))
		return -EPROTO;
	if (pre[JOIN_MAGIC_LEN] != JOIN_URGENT && pre[JOIN_MAGIC_LEN] != JOIN_RESUME)
		return -EPROTO;
	*kind = (enum join_kind)pre[JOIN_MAGIC_LEN];
	memcpy(token, pre + JOIN_MAGIC_LEN + 1, JOIN_TOKEN_LEN);
	return 1;
}

int join_hand_over(const uint8_t token[JOIN_TOKEN_LEN], enum join_kind kind, int fd)
{
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return neg_errno();
	struct sockaddr_un sa;
	socklen_t len = join_name(token, &sa);
	int r = 0;
	if (connect(c, (struct sockaddr *)&sa, len) < 0) {
		r = errno == ECONNREFUSED || errno == ENOENT ? -ESRCH : neg_errno(); /* no such migration (any more) */
	} else {
		char byte = (char)kind;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u = {0};
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(fd));
		if (sendmsg(c, &m, MSG_NOSIGNAL) != 1)
			r = neg_errno();
	}
	close(c);
	return r;
}

int join_send_prefix(int fd, const uint8_t token[JOIN_TOKEN_LEN], enum join_kind kind)
{
	uint8_t pre[JOIN_MAGIC_LEN + 1 + JOIN_TOKEN_LEN];
	memcpy(pre, JOIN_MAGIC, JOIN_MAGIC_LEN);
	pre[JOIN_MAGIC_LEN] = (uint8_t)kind;
	memcpy(pre + JOIN_MAGIC_LEN + 1, token, JOIN_TOKEN_LEN);
	return send(fd, pre, sizeof(pre), MSG_NOSIGNAL) == (ssize_t)sizeof(pre) ? 0 : neg_errno();
}
