/* tcp.c — see tcp.h. */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"

#define LISTEN_BACKLOG 16
#define KEEPALIVE_PROBES 3

int net_parse_addr(const char *spec, bool passive, struct net_addr *a, char *err, size_t errlen)
{
	*a = (struct net_addr){0};
	snprintf(a->text, sizeof(a->text), "%s", spec);
	char host[256] = "";
	const char *port;
	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');
		if (!close_br || close_br[1] != ':' || (size_t)(close_br - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
		port = close_br + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			goto bad;
		memcpy(host, spec, (size_t)(colon - spec));
		port = colon + 1;
	}
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || p == 0 || p > 65535)
		goto bad;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res;
	int e = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (e != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(e));
		return -EINVAL;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not HOST:PORT (e.g. 10.0.0.2:7070, [::1]:7070, :7070)", spec);
	return -EINVAL;
}

int net_listen(const struct net_addr *a, char *err, size_t errlen)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	return fd;
}

int net_connect(const struct net_addr *a, int timeout_ms, char *err, size_t errlen)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot create a socket: %s", strerror(-e));
		return e;
	}
	int e = 0;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS) {
			e = neg_errno();
		} else {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int n;
			do
				n = poll(&p, 1, timeout_ms);
			while (n < 0 && errno == EINTR);
			socklen_t sl = sizeof(int);
			int soerr = 0;
			if (n == 0)
				e = -ETIMEDOUT;
			else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				e = neg_errno();
			else if (soerr)
				e = -soerr;
		}
	}
	if (e == 0 && fcntl(fd, F_SETFL, 0) < 0)
		e = neg_errno();
	if (e < 0) {
		if (e == -ETIMEDOUT)
			snprintf(err, errlen, "cannot connect to %s: no answer within %d s", a->text, timeout_ms / 1000);
		else
			snprintf(err, errlen, "cannot connect to %s: %s", a->text, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

int net_tune(int fd, int dead_peer_ms)
{
	int one = 1, idle = MAX(dead_peer_ms / 2000, 1), intvl = MAX(dead_peer_ms / 2000 / KEEPALIVE_PROBES, 1),
	    probes = KEEPALIVE_PROBES;
	unsigned int user_timeout = (unsigned int)dead_peer_ms;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout)) < 0)
		return neg_errno();
	return 0;
}

void net_peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}
