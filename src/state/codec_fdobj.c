/* codec_fdobj.c — the part of a FILE record that describes a pipe, FIFO or
 * socket (struct fr_fdobj), and the list of socket options a record may
 * carry. encode_file / decode_file (codec.c) call it for the kinds that
 * have one. Field order is the wire order. */
#include "codec.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#define PIPE_SIZE_MIN 4096u       /* one page: the smallest pipe F_SETPIPE_SZ makes */
#define PIPE_SIZE_MAX (1u << 31)  /* F_SETPIPE_SZ takes an int */
#define BACKLOG_MAX 65535u        /* listen() clamps its backlog to net.core.somaxconn, 4096 by default */

#define INT_OPT(lvl, nm) {lvl, nm, sizeof(int)}
const struct fr_sockopt_kind fr_sockopt_list[] = {
	INT_OPT(SOL_SOCKET, SO_REUSEADDR),
	INT_OPT(SOL_SOCKET, SO_REUSEPORT),
	INT_OPT(SOL_SOCKET, SO_KEEPALIVE),
	INT_OPT(SOL_SOCKET, SO_BROADCAST),
	INT_OPT(SOL_SOCKET, SO_DONTROUTE),
	INT_OPT(SOL_SOCKET, SO_OOBINLINE),
	INT_OPT(SOL_SOCKET, SO_RCVBUF),
	INT_OPT(SOL_SOCKET, SO_SNDBUF),
	INT_OPT(SOL_SOCKET, SO_RCVLOWAT),
	INT_OPT(SOL_SOCKET, SO_PRIORITY),
	INT_OPT(SOL_SOCKET, SO_MARK),
	INT_OPT(SOL_SOCKET, SO_PASSCRED),
	INT_OPT(SOL_SOCKET, SO_TIMESTAMP),
	INT_OPT(SOL_SOCKET, SO_PEEK_OFF),
	{SOL_SOCKET, SO_LINGER, sizeof(struct linger)},
	{SOL_SOCKET, SO_RCVTIMEO, sizeof(struct timeval)},
	{SOL_SOCKET, SO_SNDTIMEO, sizeof(struct timeval)},
	INT_OPT(IPPROTO_TCP, TCP_NODELAY),
	INT_OPT(IPPROTO_TCP, TCP_KEEPIDLE),
	INT_OPT(IPPROTO_TCP, TCP_KEEPINTVL),
	INT_OPT(IPPROTO_TCP, TCP_KEEPCNT),
	INT_OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT),
	INT_OPT(IPPROTO_TCP, TCP_USER_TIMEOUT),
	INT_OPT(IPPROTO_TCP, TCP_FASTOPEN),
	INT_OPT(IPPROTO_IP, IP_TOS),
	INT_OPT(IPPROTO_IP, IP_TTL),
	INT_OPT(IPPROTO_IP, IP_FREEBIND),
	INT_OPT(IPPROTO_IP, IP_PKTINFO),
	INT_OPT(IPPROTO_IPV6, IPV6_V6ONLY),
	INT_OPT(IPPROTO_IPV6, IPV6_UNICAST_HOPS),
	INT_OPT(IPPROTO_IPV6, IPV6_TCLASS),
	INT_OPT(IPPROTO_IPV6, IPV6_RECVPKTINFO),
};
const size_t fr_sockopt_count = sizeof(fr_sockopt_list) / sizeof(fr_sockopt_list[0]);

const struct fr_sockopt_kind *fr_sockopt_find(int32_t level, int32_t name)
{
	for (size_t i = 0; i < fr_sockopt_count; i++)
		if (fr_sockopt_list[i].level == level && fr_sockopt_list[i].name == name)
			return &fr_sockopt_list[i];
	return NULL;
}

static void put_bytes(struct buf *b, const void *p, uint32_t n)
{
	buf_put_u32(b, n);
	buf_put(b, p, n);
}

void encode_fdobj(struct buf *b, const struct fr_fdobj *o)
{
	buf_put_u64(b, o->id);
	buf_put_u64(b, o->peer);
	const uint32_t w[] = {o->family, o->type, o->protocol, o->state, o->backlog, o->shutdown, o->pipe_size};
	buf_put(b, w, sizeof(w));
	put_bytes(b, o->name, o->name_len);
	put_bytes(b, o->peer_name, o->peer_name_len);
	buf_put_u32(b, o->nopts);
	for (uint32_t i = 0; i < o->nopts; i++) {
		buf_put_u32(b, (uint32_t)o->opts[i].level);
		buf_put_u32(b, (uint32_t)o->opts[i].name);
		put_bytes(b, o->opts[i].val, o->opts[i].len);
	}
	put_bytes(b, o->data, o->data_len);
	buf_put_u32(b, o->nmsgs);
	buf_put(b, o->msg_len, (size_t)o->nmsgs * sizeof(*o->msg_len));
}

/* A length-prefixed run of at most max bytes into out. */
static bool get_bytes(struct buf_reader *r, uint8_t *out, uint32_t *len, uint32_t max)
{
	*len = buf_get_u32(r);
	if (*len > max)
		r->bad = true;
	return !r->bad && buf_get(r, out, *len);
}

/* A length-prefixed run of at most max elements of size each, malloc'd. */
static void *get_array(struct buf_reader *r, uint32_t *n, uint32_t max, size_t size)
{
	*n = buf_get_u32(r);
	if (r->bad || *n == 0)
		return NULL;
	void *p = NULL;
	if (*n > max || (size_t)*n * size > r->left || !(p = malloc((size_t)*n * size))) {
		r->bad = true;
		*n = 0;
		return NULL;
	}
	buf_get(r, p, (size_t)*n * size);
	return p;
}

static const char *check_socket(const struct fr_fdobj *o, uint32_t kind)
{
	if (kind == FILE_UNIX) {
		if (o->family != AF_UNIX)
			return "unix socket (family)";
		if (o->type != SOCK_STREAM && o->type != SOCK_DGRAM && o->type != SOCK_SEQPACKET)
			return "unix socket (type)";
		if (o->name_len > sizeof(struct sockaddr_un) || o->peer_name_len)
			return "unix socket (address length)";
		if (o->peer && o->state != FR_SOCK_CONNECTED)
			return "unix socket (only a connected socket names its peer)";
		if (o->shutdown & ~(uint32_t)(FR_SHUT_RCV | FR_SHUT_SEND))
			return "unix socket (shutdown)";
		if (o->state == FR_SOCK_LISTEN && (o->type == SOCK_DGRAM || o->data_len))
			return "unix socket (a listening socket is a stream with no data)";
		return NULL;
	}
	bool tcp = o->type == SOCK_STREAM && o->protocol == IPPROTO_TCP;
	bool udp = o->type == SOCK_DGRAM && o->protocol == IPPROTO_UDP;
	socklen_t alen = o->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (o->family != AF_INET && o->family != AF_INET6)
		return "inet socket (family)";
	if (!tcp && !udp)
		return "inet socket (type and protocol: TCP or UDP)";
	if ((o->name_len && o->name_len != alen) || (o->peer_name_len && o->peer_name_len != alen))
		return "inet socket (address length)";
	if (o->peer || o->shutdown || o->data_len)
		return "inet socket (peer, shutdown or data: reserved)";
	if (tcp ? o->state == FR_SOCK_CONNECTED : o->state == FR_SOCK_LISTEN)
		return "inet socket (state: a TCP socket listens or not, a UDP one may be connected)";
	if ((o->state == FR_SOCK_CONNECTED) != (o->peer_name_len != 0))
		return "inet socket (a connected UDP socket names its peer, no other does)";
	if (o->state == FR_SOCK_LISTEN && !o->name_len)
		return "inet socket (a listening socket has an address)";
	return NULL;
}

static const char *check_fdobj(const struct fr_fdobj *o, uint32_t kind)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < o->nmsgs; i++)
		total += o->msg_len[i];
	if (o->nmsgs && total != o->data_len)
		return "message lengths (do not add up to the data)";
	if (o->data_len > FR_QUEUE_MAX)
		return "data_len";
	for (uint32_t i = 0; i < o->nopts; i++) {
		const struct fr_sockopt_kind *k = fr_sockopt_find(o->opts[i].level, o->opts[i].name);
		if (!k || k->len != o->opts[i].len)
			return "socket option (unknown, or of the wrong size)";
	}
	if (o->state == FR_SOCK_LISTEN ? o->backlog > BACKLOG_MAX : o->backlog != 0)
		return "backlog";
	if (kind == FILE_PIPE || kind == FILE_FIFO) {
		if (o->family || o->type || o->protocol || o->state || o->shutdown || o->peer || o->name_len ||
		    o->peer_name_len || o->nopts)
			return "pipe (socket fields set)";
		if (o->pipe_size && (o->pipe_size < PIPE_SIZE_MIN || o->pipe_size > PIPE_SIZE_MAX))
			return "pipe_size";
		if (o->data_len > o->pipe_size)
			return "pipe (more data than the pipe holds)";
		return kind == FILE_PIPE && !o->id ? "pipe (id)" : NULL;
	}
	if (o->pipe_size)
		return "pipe_size (set on a socket)";
	if (o->state < FR_SOCK_UNCONNECTED || o->state > FR_SOCK_CONNECTED)
		return "socket state";
	return check_socket(o, kind);
}

int decode_fdobj(struct buf_reader *r, uint32_t kind, struct fr_fdobj **out, const char **why)
{
	*why = "payload too short or a length field invalid";
	struct fr_fdobj *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*out = o;
	o->id = buf_get_u64(r);
	o->peer = buf_get_u64(r);
	uint32_t w[7];
	buf_get(r, w, sizeof(w));
	o->family = w[0], o->type = w[1], o->protocol = w[2], o->state = w[3];
	o->backlog = w[4], o->shutdown = w[5], o->pipe_size = w[6];
	get_bytes(r, o->name, &o->name_len, FR_SOCKNAME_MAX);
	get_bytes(r, o->peer_name, &o->peer_name_len, FR_SOCKNAME_MAX);
	o->nopts = buf_get_u32(r);
	if (o->nopts > FR_SOCKOPTS_MAX)
		r->bad = true;
	for (uint32_t i = 0; !r->bad && i < o->nopts; i++) {
		o->opts[i].level = (int32_t)buf_get_u32(r);
		o->opts[i].name = (int32_t)buf_get_u32(r);
		get_bytes(r, o->opts[i].val, &o->opts[i].len, FR_SOCKOPT_VAL_MAX);
	}
	o->data = get_array(r, &o->data_len, FR_QUEUE_MAX, 1);
	o->msg_len = get_array(r, &o->nmsgs, FR_QUEUE_MSGS_MAX, sizeof(*o->msg_len));
	if (r->bad)
		return -EBADMSG;
	*why = check_fdobj(o, kind);
	return *why ? -EBADMSG : 0;
}
