/* tcp.h — TCP endpoints for migrations: parsing HOST:PORT, listening,
 * connecting with a deadline, and the socket options every migration socket
 * gets (TCP_NODELAY for control replies, keepalive + TCP_USER_TIMEOUT so a
 * dead peer is noticed even while nothing is being read). Encryption and
 * authentication sit on top of these sockets (see the channel layer). */
#ifndef FERRY_TCP_H
#define FERRY_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[300]; /* as given, for messages */
};

/* "HOST:PORT", "[IPv6]:PORT" or ":PORT" (any address); HOST may be a name.
 * Returns 0 or -EINVAL with err filled. */
int net_parse_addr(const char *spec, bool passive, struct net_addr *a, char *err, size_t errlen);
/* A listening socket (SO_REUSEADDR, CLOEXEC). */
int net_listen(const struct net_addr *a, char *err, size_t errlen);
/* Connects within timeout_ms; the returned socket is blocking again. */
int net_connect(const struct net_addr *a, int timeout_ms, char *err, size_t errlen);
/* Options for an established migration socket; dead_peer_ms bounds how long
 * unacknowledged data or silent keepalives may last. */
int net_tune(int fd, int dead_peer_ms);
/* "addr:port" of the socket's peer, for messages. */
void net_peer_name(int fd, char *buf, size_t len);

#endif
