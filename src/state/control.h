/* control.h — the records of a live migration that are not process state:
 * the offer A makes before it touches the process, and the answers and
 * commands of the switchover (DESIGN.md, "Switchover"). They travel in the
 * same framed, checksummed records as the state, A→B and B→A:
 *
 *   A → B: preamble, HELLO, OFFER          B → A: ACCEPT | REFUSE(reason)
 *   pre-copy, per round (the process runs):
 *   A → B: VMA* PAGES/DISCARD* ROUND_END   B → A: ROUND_END(round) | REFUSE
 *   A → B: SWITCHOVER (pre-copy only)
 *   A → B: PROCESS ... PAGES ... DONE      B → A: READY | REFUSE(reason)
 *   A → B: GO                              B → A: RUNNING(pid)
 *   post-copy, after RUNNING (A keeps its copy stopped to read from):
 *   A → B: PAGES* (asked for first, then the rest) DONE
 *                                          B → A: PAGE_REQ* COMPLETE(pages)
 * In post-copy, the state stream sends LAZY ranges instead of the pages of
 * private writable anonymous memory. Hybrid runs pre-copy rounds, then the
 * post-copy phase (empty when the rounds ended by the downtime limit).
 *
 * Until A has READY, A's process is only paused; any failure thaws it (and
 * removes the pre-copy tracking). */
#ifndef FERRY_CONTROL_H
#define FERRY_CONTROL_H

#include <stdint.h>

#include "buf.h"

#define FR_OFFER_MAX_FILES 65536 /* files named in one offer (maps + fds of one process) */

enum fr_mode { FR_MODE_STOP_AND_COPY = 0, FR_MODE_PRECOPY = 1, FR_MODE_POSTCOPY = 2, FR_MODE_HYBRID = 3 };

/* A file the process maps or holds open: B must have it, and the same one
 * (size and mtime) unless the process writes to it. */
#define FR_OFFER_FILE_EXACT 1u /* size and mtime must match */
struct fr_offer_file {
	char *path;
	uint32_t flags; /* FR_OFFER_FILE_* */
	uint64_t size;
	int64_t mtime_ns;
};

/* Parts of post-copy a migration goes without (`ferry send --no-...`), for
 * the bench to show what each buys. */
#define FR_PC_NO_URGENT 1u    /* no second connection for page requests and their answers */
#define FR_PC_NO_READAHEAD 2u /* a fault asks for its own page only */
#define FR_PC_NO_PUSH 4u      /* A sends what is asked for, and pushes only when B is idle */
#define FR_PC_ALL (FR_PC_NO_URGENT | FR_PC_NO_READAHEAD | FR_PC_NO_PUSH)
#define FR_RETRY_FOR_MAX_S 86400

struct fr_offer {
	int32_t pid;
	uint32_t mode;   /* enum fr_mode */
	uint64_t memory; /* bytes of memory to move, for B's progress and checks */
	uint32_t compress; /* enum fr_compress of the PAGES records to come */
	uint32_t postcopy_flags; /* FR_PC_* */
	uint32_t retry_for_s;    /* post-copy: how long both sides try to reconnect after the link broke */
	uint32_t nfiles;
	struct fr_offer_file *files;
};

void encode_offer(struct buf *b, const struct fr_offer *o);
int decode_offer(const uint8_t *p, uint32_t len, struct fr_offer *o);
void fr_offer_free(struct fr_offer *o);

/* REFUSE: one line saying why. */
void encode_refuse(struct buf *b, const char *reason);
int decode_refuse(const uint8_t *p, uint32_t len, char **reason);

/* READY / RUNNING carry one number: B's build time in µs / the pid running. */
void encode_u64_record(struct buf *b, uint64_t v);
int decode_u64_record(const uint8_t *p, uint32_t len, uint64_t *v);

/* SESSION: the token of B's join point (net/join.h), after RUNNING. */
#define FR_SESSION_TOKEN_LEN 16
void encode_session(struct buf *b, const uint8_t token[FR_SESSION_TOKEN_LEN]);
int decode_session(const uint8_t *p, uint32_t len, uint8_t token[FR_SESSION_TOKEN_LEN]);

/* RESUME (B → A, first on a connection made again during post-copy): which
 * of the `total` pages left at A are in place at B, one bit each (bit k of
 * byte k / 8: page k of the sorted lazy ranges). */
void encode_resume(struct buf *b, uint64_t total, const uint8_t *bits);
/* bits must hold (total + 7) / 8 bytes; a count other than total is refused. */
int decode_resume(const uint8_t *p, uint32_t len, uint64_t total, uint8_t *bits);

#endif
