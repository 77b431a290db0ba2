/* stream.h — ferry's stream format: a 16-byte preamble (magic "FERRYSTM",
 * format version, flags) followed by self-describing records. Each record is
 * a 12-byte header {u16 type, u16 flags, u32 length, u32 crc32c} and a
 * payload; the CRC covers type, flags, length and payload. The header flags
 * are reserved: a writer sets 0 and a reader refuses anything else, so a later
 * format version can give them a meaning safely. An image file and
 * a migration socket carry the same stream.
 *
 * Record order written by a dump: HELLO, PROCESS, THREAD*, FILE*,
 * POSIX_TIMER*, FILE_LOCK*, VMA*,
 * PAGES*, DONE. A reader accepts PAGES in any order and the same page more
 * than once (the last one wins). A pre-copy migration first sends rounds
 * while the process runs, each VMA* (the layout now), PAGES* and DISCARD*,
 * ROUND_END; then SWITCHOVER and the dump's records from PROCESS on, whose
 * PAGES and DISCARD records are the last round's. */
#ifndef FERRY_STREAM_H
#define FERRY_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FR_STREAM_MAGIC "FERRYSTM"
#define FR_STREAM_VERSION 3 /* 2: VMA attrs, process pdeathsig and deleted cwd; 3: mapped memfds and
                                    deleted files (VMA object, file mapping_only), System V
                                    shared memory (SHM record, VMA kind) */
#define FR_RECORD_MAX (64u << 20) /* a record payload larger than this is corruption */
/* A reader on a pipe or socket gives up when the peer sends nothing for this
 * long: a stalled or hostile peer must not hold a restore (and its stub)
 * forever. 30 s outlasts any pause a healthy sender makes between records. */
#define FR_STREAM_READ_TIMEOUT_MS 30000

enum fr_record_type {
	REC_HELLO = 1,
	REC_PROCESS,
	REC_THREAD,
	REC_FILE,
	REC_VMA,
	REC_PAGES,
	REC_ROUND_END,
	REC_SWITCHOVER,
	REC_DONE,
	REC_OFFER,   /* live migration (control.h) */
	REC_ACCEPT,
	REC_REFUSE,
	REC_READY,
	REC_GO,
	REC_RUNNING,
	REC_DISCARD, /* pre-copy: pages to drop back to their fresh contents */
	REC_POSIX_TIMER, /* a POSIX timer (codec_timer.c) */
	REC_FILE_LOCK,   /* a file lock (codec_lock.c) */
	REC_LAZY,      /* post-copy: pages with data at the source, sent on demand */
	REC_PAGE_REQ,  /* post-copy, B → A: pages a thread faulted on */
	REC_COMPLETE,  /* post-copy, B → A: every page is in place */
	REC_SESSION,   /* post-copy, B → A: the token a second connection joins with */
	REC_RESUME,    /* post-copy, B → A: the pages in place, on a connection made again */
	REC_SHM,       /* a System V shared memory segment (codec_shm.c) */
	REC__MAX,
};

/* A transport other than a plain fd (a TLS channel): read returns > 0, 0 at
 * the peer's clean end, or -errno (-ETIMEDOUT when the peer is silent for
 * the transport's own deadline); writev writes everything or fails. */
struct fr_io {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	int (*writev)(void *ctx, const struct iovec *iov, int n);
	void *ctx;
};

struct fr_stream {
	int fd;           /* -1 when io is set */
	const struct fr_io *io;
	bool seekable;    /* a regular file: writers place records with pwritev */
	uint64_t offset;  /* bytes read or written so far (atomic for writers) */
	uint64_t records; /* records read or written so far (atomic for writers) */
	uint8_t *rbuf;    /* reader: payload of the last record */
	size_t rcap;
	int read_timeout_ms; /* reader on a pipe/socket: longest wait for the next byte
			      * (FR_STREAM_READ_TIMEOUT_MS unless the caller changes it) */
	char err[256];    /* reader: what was wrong, for the one-line message */
	pthread_mutex_t wlock; /* writers on a pipe, socket or io: one record at a time */
	uint8_t compress;        /* writer: enum fr_compress for PAGES payloads (compress.h) */
	uint8_t accept_compress; /* reader: 1 << codec for each codec it takes; 0 = none */
	uint64_t compress_saved; /* writer: payload bytes compression kept off the wire */
	uint8_t *dbuf;           /* reader: the decompressed payload */
	size_t dcap;
};

const char *fr_record_name(uint32_t type);

/* Writer. */
void stream_init(struct fr_stream *s, int fd);
void stream_init_io(struct fr_stream *s, const struct fr_io *io);
int stream_write_preamble(struct fr_stream *s);
/* Write one record whose payload is the concatenation of iov[0..n).
 * Thread-safe: on a regular file each record gets its own byte range
 * (records from several threads land whole, in any order); on a pipe or
 * socket writes are serialized. */
int stream_write_recordv(struct fr_stream *s, uint16_t type, const struct iovec *iov, int n);
int stream_write_record(struct fr_stream *s, uint16_t type, const void *payload, size_t len);

/* Reader. Returns 0, or -EPROTO (bad magic / version) / -ENODATA (truncated) /
 * -EBADMSG (checksum, length, type or reserved flags invalid) / -ETIMEDOUT
 * (a pipe or socket sent nothing for s->read_timeout_ms) with s->err filled. */
int stream_read_preamble(struct fr_stream *s);
/* Reads the next record; *payload points into the stream's buffer, valid
 * until the next call. Returns 0, or -ENODATA at a clean end of input with
 * s->err empty, or a negative errno with s->err filled. */
int stream_read_record(struct fr_stream *s, uint16_t *type, const uint8_t **payload, uint32_t *len);
void stream_release(struct fr_stream *s);

/* Checks the record that starts at rec (avail bytes readable there):
 * header, length and (if check_crc) CRC. On success *size is the whole record's size.
 * Used to verify records in place in a mapped image. */
int stream_check_record(const uint8_t *rec, size_t avail, bool check_crc, uint16_t *type, const uint8_t **payload,
			uint32_t *len, size_t *size);
/* Size of the header that precedes each payload. */
#define FR_RECORD_HEADER_SIZE 12

#endif
