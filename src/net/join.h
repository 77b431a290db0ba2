/* join.h — more connections to a migration already running: the receiver's
 * listener hands each connection to a child process of its own, so a second
 * connection (post-copy's urgent channel) must find the child that runs its
 * migration. B's migration child opens a join point: a random session token
 * and an abstract unix socket in B's network namespace named after it, and
 * tells A the token over the first (authenticated) connection. A's second
 * connection starts with JOIN_MAGIC and the token in the clear, before the
 * channel's handshake; the listener's child that accepted it peeks at that
 * prefix and passes the raw socket to the join point over SCM_RIGHTS. The
 * migration's child then runs the handshake itself: the token only routes,
 * the key authenticates (a connection without it fails the handshake). */
#ifndef FERRY_JOIN_H
#define FERRY_JOIN_H

#include <stdint.h>

#define JOIN_TOKEN_LEN 16
/* JOIN_MAGIC + a kind byte: differs from a TLS ClientHello and from a plain
 * stream's preamble */
#define JOIN_MAGIC "FERRYJN"
#define JOIN_MAGIC_LEN 7
enum join_kind {
	JOIN_URGENT = 'U', /* post-copy's second connection */
	JOIN_RESUME = 'R', /* the migration's connection, made again after it broke */
};

struct join_point {
	int fd; /* listening abstract unix socket, -1 when closed */
	uint8_t token[JOIN_TOKEN_LEN];
};

/* B, in the migration's child: a fresh token and its socket. */
int join_open(struct join_point *jp);
/* B: a socket handed over for this join point within timeout_ms (its
 * prefix already consumed; its kind in *kind), or -ETIMEDOUT / -errno. */
int join_wait(struct join_point *jp, int timeout_ms, enum join_kind *kind);
void join_close(struct join_point *jp);

/* B, in the listener's child: 1 if the connection fd opens with a join
 * prefix (consumed; the token in token), 0 if not (nothing consumed), or
 * -errno (-ETIMEDOUT: nothing within timeout_ms). */
int join_peek(int fd, uint8_t token[JOIN_TOKEN_LEN], enum join_kind *kind, int timeout_ms);
/* B, in the listener's child: passes fd (of kind) to the join point of token. */
int join_hand_over(const uint8_t token[JOIN_TOKEN_LEN], enum join_kind kind, int fd);

/* A: writes the join prefix on a freshly connected socket. */
int join_send_prefix(int fd, const uint8_t token[JOIN_TOKEN_LEN], enum join_kind kind);

#endif
