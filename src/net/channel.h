/* channel.h — the byte channel a migration runs over: TLS 1.3 authenticated
 * by a pre-shared key (GnuTLS, ECDHE-PSK: each session gets fresh keys, and a
 * recorded session stays secret if the key leaks later), or plain TCP when
 * the user says --insecure. Both ends prove they hold the key in the
 * handshake, before a single byte of process state crosses. Reads wait at
 * most timeout_ms for data (-ETIMEDOUT); writes to a peer that stops reading
 * give up after the same time. The stream layer uses a channel through
 * struct fr_io and does not know which kind it is. */
#ifndef FERRY_CHANNEL_H
#define FERRY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define CHANNEL_KEY_MIN 16 /* bytes (128 bits): shorter keys are refused */
#define CHANNEL_KEY_MAX 64

/* A key file holds CHANNEL_KEY_MIN..CHANNEL_KEY_MAX bytes written as hex
 * (e.g. `openssl rand -hex 32 > ferry.key`), and must not be readable by
 * group or others. */
struct channel_key {
	uint8_t bytes[CHANNEL_KEY_MAX];
	size_t len;
};
int channel_key_load(const char *path, struct channel_key *k, char *err, size_t errlen);

struct channel {
	int fd;
	void *tls; /* gnutls_session_t; NULL on a plain channel */
	void *cred;
	bool server;
	int timeout_ms;
	const struct channel_key *key;
	uint8_t *ahead; /* TLS: bytes read from the socket, not yet taken by gnutls */
	size_t ahead_at, ahead_len;
};

/* Takes fd (a connected socket) and runs the handshake as client or server;
 * key NULL = plain TCP. On failure fd is closed and err says why. */
int channel_open(struct channel *c, int fd, bool server, const struct channel_key *key, int timeout_ms, char *err,
		 size_t errlen);
/* Up to len bytes: > 0, 0 at the peer's clean end, or -errno (-EINTR when
 * ferry was told to stop: SIGINT, SIGTERM, SIGHUP). */
ssize_t channel_read(struct channel *c, void *buf, size_t len);
/* All of iov[0..n), or -errno. */
int channel_writev(struct channel *c, const struct iovec *iov, int n);
/* True if the peer has sent something not yet read (a refusal while this
 * side is still writing), without blocking. */
bool channel_peer_spoke(struct channel *c);
/* Stops writing and reads (discarding) until the peer closes or ms pass, so
 * that a last message already sent is not lost to a TCP reset. */
void channel_linger(struct channel *c, int ms);
/* Says goodbye (TLS close_notify) if graceful, closes the socket. */
void channel_close(struct channel *c, bool graceful);
const char *channel_kind(const struct channel *c);

#endif
