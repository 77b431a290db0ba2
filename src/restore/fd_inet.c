/* fd_inet.c — TCP and UDP sockets made again in ferry: the socket, its
 * options (SO_REUSEADDR, IPV6_V6ONLY and the like come before bind), its
 * address, listen() with the backlog, connect() for a connected UDP
 * socket. The bind is made with SO_REUSEADDR, then the recorded value is
 * set back (as criu does): connections the dumped process closed may still
 * hold the port in TIME_WAIT. An address given with --map-addr OLD=NEW binds NEW instead: a
 * migrated listener bound to the source host's own address binds the
 * destination's (a wildcard address needs nothing). An address this host
 * does not have is refused, naming the fd and the address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/util.h"
#include "fdobj.h"

/* The address bytes inside a sockaddr_in / sockaddr_in6. */
static uint8_t *addr_bytes(struct sockaddr_storage *ss, size_t *len)
{
	if (ss->ss_family == AF_INET) {
		*len = 4;
		return (uint8_t *)&((struct sockaddr_in *)ss)->sin_addr;
	}
	*len = 16;
	return (uint8_t *)&((struct sockaddr_in6 *)ss)->sin6_addr;
}

static void map_addr(struct sockaddr_storage *ss, const struct restore_opts *opts)
{
	size_t len;
	uint8_t *a = addr_bytes(ss, &len);
	for (size_t i = 0; i < opts->naddr_map; i++)
		if (opts->addr_map[i].family == ss->ss_family && memcmp(opts->addr_map[i].from, a, len) == 0) {
			memcpy(a, opts->addr_map[i].to, len);
			return;
		}
}

/* "10.77.0.1:7000", "[::1]:7000" */
static void describe_addr(struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	size_t alen;
	inet_ntop(ss->ss_family, addr_bytes(ss, &alen), ip, sizeof(ip));
	unsigned port = ntohs(((struct sockaddr_in *)ss)->sin_port);
	snprintf(out, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

static int fail(char *err, size_t errlen, int e, const struct fr_file *f, const char *what,
		struct sockaddr_storage *ss)
{
	char addr[INET6_ADDRSTRLEN + 16] = "";
	if (ss)
		describe_addr(ss, addr, sizeof(addr));
	snprintf(err, errlen, "cannot make %s socket fd %d again: %s%s%s: %s%s", f->obj->type == SOCK_STREAM ? "TCP" : "UDP",
		 f->fd, what, ss ? " " : "", addr, strerror(-e),
		 e == -EADDRNOTAVAIL ? " (this host does not have the address: bring it here or give --map-addr OLD=NEW)"
				     : "");
	return e;
}

int fd_inet_open(const struct fr_file *f, const struct restore_opts *opts, int *out, char *err, size_t errlen)
{
	const struct fr_fdobj *o = f->obj;
	_cleanup_close_ int sk = socket((int)o->family, (int)o->type | SOCK_CLOEXEC, (int)o->protocol);
	if (sk < 0)
		return fail(err, errlen, neg_errno(), f, "socket", NULL);
	int r = fd_apply_opts(sk, f, err, errlen);
	struct sockaddr_storage ss = {0};
	int reuse = 1, was = 0;
	socklen_t wl = sizeof(was);
	if (r == 0 && o->name_len) {
		memcpy(&ss, o->name, o->name_len);
		map_addr(&ss, opts);
		if (getsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &was, &wl) < 0 ||
		    setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0)
			r = fail(err, errlen, neg_errno(), f, "SO_REUSEADDR", NULL);
		else if (bind(sk, (struct sockaddr *)&ss, o->name_len) < 0)
			r = fail(err, errlen, neg_errno(), f, "bind to", &ss);
		else if (!was && setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &was, sizeof(was)) < 0)
			r = fail(err, errlen, neg_errno(), f, "SO_REUSEADDR", NULL);
	}
	if (r == 0 && o->state == FR_SOCK_LISTEN && listen(sk, (int)o->backlog) < 0)
		r = fail(err, errlen, neg_errno(), f, "listen on", &ss);
	if (r == 0 && o->state == FR_SOCK_CONNECTED) {
		memcpy(&ss, o->peer_name, o->peer_name_len);
		map_addr(&ss, opts);
		if (connect(sk, (struct sockaddr *)&ss, o->peer_name_len) < 0)
			r = fail(err, errlen, neg_errno(), f, "connect to", &ss);
	}
	if (r == 0)
		r = fd_set_nonblock(sk, f, err, errlen);
	if (r == 0) {
		*out = sk;
		sk = -1;
	}
	return r;
}
