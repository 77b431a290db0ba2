/* link.h — one end of a migration conversation: a channel (net/) with a
 * stream writer and a stream reader on it, and the small steps both `ferry
 * send` and `ferry receive` take: send a control record, wait for the one
 * expected (a REFUSE becomes the peer's reason, silence a timeout, a closed
 * connection says so), and turn an I/O error into one line. */
#ifndef FERRY_LINK_H
#define FERRY_LINK_H

#include <stdint.h>

#include "../net/channel.h"
#include "../net/join.h"
#include "../net/tcp.h"
#include "../state/buf.h"
#include "../state/stream.h"

struct link {
	struct channel ch;
	struct fr_io io;
	struct fr_stream out, in;
	char peer[80];
	bool open;
	bool sender; /* the connecting side: a peer speaking while it streams is refusing */
	uint64_t max_bps;      /* sending rate cap in bytes/s (0 = none) */
	uint64_t paced_bytes;  /* sent under the cap so far */
	double pace_start_ms;
};

/* A: connects to HOST:PORT and runs the handshake. */
int link_connect(struct link *l, const char *to, const struct channel_key *key, int timeout_ms, char *err,
		 size_t errlen);
/* Where a link goes, to connect there again: address, key and timeout. */
struct link_peer {
	struct net_addr addr;
	const struct channel_key *key;
	int timeout_ms;
};
int link_peer_of(const struct link *l, struct link_peer *p);
/* A: another connection to the migration B runs under token (net/join.h). */
int link_join(struct link *l, const struct link_peer *p, const uint8_t *token, enum join_kind kind, char *err,
	      size_t errlen);
/* Is e a connection that broke or went silent (not a refusal, not a bad
 * record)? */
bool link_lost(int e);
/* B: takes an accepted socket and runs the handshake. */
int link_accept(struct link *l, int fd, const struct channel_key *key, int timeout_ms, char *err, size_t errlen);
/* Sends one record with b's payload (b is emptied). */
int link_put(struct link *l, uint16_t type, struct buf *b);
/* Reads the next record, which must be `type`; a u64 payload goes to *v if
 * v is not NULL. `what` names what was sent, for "... refused <what>: why". */
int link_expect(struct link *l, uint16_t type, uint64_t *v, const char *what, char *err, size_t errlen);
/* The same for a record whose payload the caller decodes (*p valid until
 * the next read); link_malformed says it did not decode. */
int link_expect_payload(struct link *l, uint16_t type, const char *what, const uint8_t **p, uint32_t *len,
			char *err, size_t errlen);
void link_malformed(struct link *l, uint16_t type, char *err, size_t errlen);
/* Tells the peer why this side gives up (best effort). */
void link_refuse(struct link *l, const char *reason);
/* Fills err with "<doing>: <what went wrong with the link>". */
void link_io_error(struct link *l, int e, const char *doing, char *err, size_t errlen);
void link_close(struct link *l, bool graceful);

#endif
