/* fd_inet.c — TCP and UDP sockets (IPv4 and IPv6) of a process being
 * captured: bound or not, listening (TCP) with its backlog, connected (UDP)
 * with its peer, and their options. A TCP connection (established or on
 * its way) is refused by name, and so is a listening socket holding
 * connections not accepted yet: moving connections is a later issue.
 * Datagrams queued on a UDP socket are not carried (UDP may drop them
 * anyway). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/util.h"
#include "fdobj.h"

static const char *const tcp_state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",   [TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",     [TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",             [TCP_CLOSE_WAIT] = "CLOSE_WAIT", [TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",           [TCP_CLOSING] = "CLOSING"};

/* The port of a sockaddr_in / sockaddr_in6 (same place in both). */
static uint16_t port_of(const uint8_t *sa) { return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port); }

/* TCP: listening (its backlog) or not bound to a peer at all. */
static int tcp_state(struct fr_file *f, int sk, char *err, size_t errlen)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot read the state of TCP socket fd %d: %s", f->fd, strerror(-e));
		return e;
	}
	if (ti.tcpi_state == TCP_LISTEN) {
		/* For a listener TCP_INFO gives the accept queue: length, limit. */
		if (ti.tcpi_unacked) {
			snprintf(err, errlen,
				 "listening TCP socket fd %d holds %u connection%s not accepted yet: established TCP "
				 "connections are not supported yet",
				 f->fd, ti.tcpi_unacked, ti.tcpi_unacked == 1 ? "" : "s");
			return -EOPNOTSUPP;
		}
		f->obj->state = FR_SOCK_LISTEN;
		f->obj->backlog = ti.tcpi_sacked;
		return 0;
	}
	if (ti.tcpi_state == TCP_CLOSE) {
		f->obj->state = FR_SOCK_UNCONNECTED;
		return 0;
	}
	if (ti.tcpi_state == TCP_ESTABLISHED)
		snprintf(err, errlen, "established TCP connection fd %d: not supported yet", f->fd);
	else
		snprintf(err, errlen, "TCP connection fd %d (state %s): not supported yet", f->fd,
			 ti.tcpi_state < sizeof(tcp_state_names) / sizeof(tcp_state_names[0]) &&
					 tcp_state_names[ti.tcpi_state]
				 ? tcp_state_names[ti.tcpi_state]
				 : "?");
	return -EOPNOTSUPP;
}

int fd_inet_describe(struct fr_file *f, int sk, char *err, size_t errlen)
{
	struct fr_fdobj *o = f->obj;
	int v[3] = {0};
	socklen_t l = sizeof(int);
	const int opt[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};
	for (int i = 0; i < 3; i++, l = sizeof(int))
		if (getsockopt(sk, SOL_SOCKET, opt[i], &v[i], &l) < 0) {
			int e = neg_errno();
			snprintf(err, errlen, "cannot read socket fd %d: %s", f->fd, strerror(-e));
			return e;
		}
	o->family = (uint32_t)v[0], o->type = (uint32_t)v[1], o->protocol = (uint32_t)v[2];
	f->kind = FILE_INET;
	bool tcp = v[1] == SOCK_STREAM && v[2] == IPPROTO_TCP, udp = v[1] == SOCK_DGRAM && v[2] == IPPROTO_UDP;
	if (!tcp && !udp) {
		snprintf(err, errlen, "fd %d (%s) is an inet socket of type %d, protocol %d: ferry restores TCP and UDP only",
			 f->fd, f->path, v[1], v[2]);
		return -EOPNOTSUPP;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(sk, (struct sockaddr *)&ss, &sl) == 0 && sl <= FR_SOCKNAME_MAX && port_of((uint8_t *)&ss)) {
		memcpy(o->name, &ss, sl);
		o->name_len = sl;
	}
	int r = 0;
	if (tcp) {
		r = tcp_state(f, sk, err, errlen);
	} else {
		sl = sizeof(ss);
		o->state = FR_SOCK_UNCONNECTED;
		if (getpeername(sk, (struct sockaddr *)&ss, &sl) == 0 && sl <= FR_SOCKNAME_MAX) {
			memcpy(o->peer_name, &ss, sl);
			o->peer_name_len = sl;
			o->state = FR_SOCK_CONNECTED;
		}
	}
	return r < 0 ? r : fd_sock_read_opts(sk, o, err, errlen);
}
