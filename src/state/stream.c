/* stream.c — record framing and checksums (see stream.h). */
#include "stream.h"
#include "compress.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "crc32c.h"

struct preamble {
	char magic[8];
	uint32_t version;
	uint32_t flags;
};

struct record_header {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	uint32_t crc;
};

_Static_assert(sizeof(struct preamble) == 16, "preamble is 16 bytes on the wire");
_Static_assert(sizeof(struct record_header) == FR_RECORD_HEADER_SIZE, "record header is 12 bytes on the wire");

const char *fr_record_name(uint32_t type)
{
	static const char *const names[REC__MAX] = {
		[REC_HELLO] = "hello",   [REC_PROCESS] = "process",       [REC_THREAD] = "thread",
		[REC_FILE] = "file",     [REC_VMA] = "vma",               [REC_PAGES] = "pages",
		[REC_ROUND_END] = "round-end", [REC_SWITCHOVER] = "switchover", [REC_DONE] = "done",
		[REC_OFFER] = "offer", [REC_ACCEPT] = "accept", [REC_REFUSE] = "refuse", [REC_READY] = "ready",
		[REC_GO] = "go",       [REC_RUNNING] = "running", [REC_DISCARD] = "discard",
		[REC_POSIX_TIMER] = "posix timer", [REC_FILE_LOCK] = "file lock",
		[REC_LAZY] = "lazy",   [REC_PAGE_REQ] = "page-request", [REC_COMPLETE] = "complete",
		[REC_SESSION] = "session", [REC_RESUME] = "resume",
		[REC_SHM] = "System V shared memory",
	};
	return type < REC__MAX && names[type] ? names[type] : "unknown";
}

void stream_init(struct fr_stream *s, int fd)
{
	struct stat st;
	*s = (struct fr_stream){.fd = fd, .read_timeout_ms = FR_STREAM_READ_TIMEOUT_MS,
				.wlock = PTHREAD_MUTEX_INITIALIZER};
	s->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0;
}

void stream_init_io(struct fr_stream *s, const struct fr_io *io)
{
	*s = (struct fr_stream){.fd = -1, .io = io, .read_timeout_ms = FR_STREAM_READ_TIMEOUT_MS,
				.wlock = PTHREAD_MUTEX_INITIALIZER};
}

void stream_release(struct fr_stream *s)
{
	free(s->rbuf);
	s->rbuf = NULL;
	s->rcap = 0;
	free(s->dbuf);
	s->dbuf = NULL;
	s->dcap = 0;
}

int stream_write_preamble(struct fr_stream *s)
{
	struct preamble p = {.version = FR_STREAM_VERSION};
	memcpy(p.magic, FR_STREAM_MAGIC, sizeof(p.magic));
	struct iovec v = {.iov_base = &p, .iov_len = sizeof(p)};
	int r = s->io	     ? s->io->writev(s->io->ctx, &v, 1)
		: s->seekable ? (pwrite(s->fd, &p, sizeof(p), 0) == (ssize_t)sizeof(p) ? 0 : -EIO)
			      : write_full(s->fd, &p, sizeof(p));
	if (r == 0)
		s->offset += sizeof(p);
	return r;
}

int stream_write_recordv(struct fr_stream *s, uint16_t type, const struct iovec *iov, int n)
{
	enum { MAX_IOV = 8 };
	if (n + 1 > MAX_IOV)
		return -EINVAL;
	struct record_header h = {.type = type};
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > FR_RECORD_MAX)
		return -E2BIG;
	struct iovec packed;
	if (s->compress && type == REC_PAGES) {
		const uint8_t *out;
		size_t outlen;
		int c = compress_payload((enum fr_compress)s->compress, iov, n, len, &out, &outlen);
		if (c == -ENOMEM)
			return c;
		if (c == 0) { /* else it would not shrink: the payload goes as it is */
			__atomic_fetch_add(&s->compress_saved, len - outlen, __ATOMIC_RELAXED);
			packed = (struct iovec){.iov_base = (void *)out, .iov_len = outlen};
			iov = &packed;
			n = 1;
			len = outlen;
			h.flags = s->compress;
		}
	}
	h.len = (uint32_t)len;
	uint32_t crc = crc32c(0, &h, offsetof(struct record_header, crc));
	for (int i = 0; i < n; i++)
		crc = crc32c(crc, iov[i].iov_base, iov[i].iov_len);
	h.crc = crc;

	struct iovec all[MAX_IOV];
	all[0] = (struct iovec){.iov_base = &h, .iov_len = sizeof(h)};
	memcpy(all + 1, iov, sizeof(*iov) * (size_t)n);
	int cnt = n + 1, idx = 0;
	size_t left = sizeof(h) + len;
	uint64_t at = 0;
	if (s->io) {
		pthread_mutex_lock(&s->wlock);
		int r = s->io->writev(s->io->ctx, all, cnt);
		if (r == 0) {
			s->offset += left;
			s->records++;
		}
		pthread_mutex_unlock(&s->wlock);
		return r;
	}
	if (s->seekable)
		at = __atomic_fetch_add(&s->offset, left, __ATOMIC_RELAXED);
	else
		pthread_mutex_lock(&s->wlock);
	int r = 0;
	while (left) {
		ssize_t w = s->seekable ? pwritev(s->fd, all + idx, cnt - idx, (off_t)at) : writev(s->fd, all + idx, cnt - idx);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = neg_errno();
			break;
		}
		if (w == 0) {
			r = -EIO;
			break;
		}
		left -= (size_t)w;
		at += (uint64_t)w;
		if (!s->seekable)
			s->offset += (uint64_t)w;
		while (idx < cnt && (size_t)w >= all[idx].iov_len) {
			w -= (ssize_t)all[idx].iov_len;
			idx++;
		}
		if (idx < cnt) {
			all[idx].iov_base = (char *)all[idx].iov_base + w;
			all[idx].iov_len -= (size_t)w;
		}
	}
	if (!s->seekable)
		pthread_mutex_unlock(&s->wlock);
	if (r == 0)
		__atomic_fetch_add(&s->records, 1, __ATOMIC_RELAXED);
	return r;
}

int stream_write_record(struct fr_stream *s, uint16_t type, const void *payload, size_t len)
{
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
	return stream_write_recordv(s, type, &iov, 1);
}

/* What is wrong with a record header, or NULL if nothing is. accept: the
 * compression codecs this reader takes (1 << codec). */
static const char *header_invalid(const struct record_header *h, unsigned accept)
{
	if (h->type == 0 || h->type >= REC__MAX)
		return "unknown record type";
	if (h->flags & ~FR_REC_COMPRESS_MASK)
		return "reserved header flags set";
	if (h->flags && !(accept & (1u << h->flags)))
		return "a compressed record this reader was not told to accept";
	if (h->len > FR_RECORD_MAX)
		return "record length over the limit";
	return NULL;
}

int stream_check_record(const uint8_t *rec, size_t avail, bool check_crc, uint16_t *type, const uint8_t **payload,
			uint32_t *len, size_t *size)
{
	struct record_header h;
	if (avail < sizeof(h))
		return -ENODATA;
	memcpy(&h, rec, sizeof(h));
	if (header_invalid(&h, 0))
		return -EBADMSG;
	if (avail - sizeof(h) < h.len)
		return -ENODATA;
	if (check_crc) {
		uint32_t crc = crc32c(0, &h, offsetof(struct record_header, crc));
		if (crc32c(crc, rec + sizeof(h), h.len) != h.crc)
			return -EBADMSG;
	}
	*type = h.type;
	*payload = rec + sizeof(h);
	*len = h.len;
	*size = sizeof(h) + h.len;
	return 0;
}

/* Reads exactly len bytes. On a pipe or socket each wait for data is bounded
 * by s->read_timeout_ms (-ETIMEDOUT). -ENODATA if the input ends first;
 * *got says how many bytes arrived (0 tells a clean end from a cut one). */
static int read_bytes(struct fr_stream *s, void *buf, size_t len, size_t *got)
{
	uint8_t *p = buf;
	*got = 0;
	while (*got < len && s->io) {
		ssize_t r = s->io->read(s->io->ctx, p + *got, len - *got);
		if (r == 0)
			return -ENODATA;
		if (r == -ETIMEDOUT)
			snprintf(s->err, sizeof(s->err), "no data from the peer within its deadline (stream offset %llu)",
				 (unsigned long long)(s->offset + *got));
		if (r < 0)
			return (int)r;
		*got += (size_t)r;
	}
	while (*got < len) {
		if (!s->seekable) {
			struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
			int n = poll(&pfd, 1, s->read_timeout_ms);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return neg_errno();
			if (n == 0) {
				snprintf(s->err, sizeof(s->err), "no data from the peer for %d s (stream offset %llu)",
					 s->read_timeout_ms / 1000, (unsigned long long)(s->offset + *got));
				return -ETIMEDOUT;
			}
		}
		ssize_t r = read(s->fd, p + *got, len - *got);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return neg_errno();
		if (r == 0)
			return -ENODATA;
		*got += (size_t)r;
	}
	return 0;
}

static void read_failed(struct fr_stream *s, int r)
{
	if (r == -EINTR) /* ferry's own stop signal (a transport gives up its wait) */
		snprintf(s->err, sizeof(s->err), "interrupted by a signal");
	else
		snprintf(s->err, sizeof(s->err), "read failed: %s", strerror(-r));
}

int stream_read_preamble(struct fr_stream *s)
{
	struct preamble p;
	size_t got;
	int r = read_bytes(s, &p, sizeof(p), &got);
	if (r == -ETIMEDOUT)
		return r;
	if (r == -ENODATA) {
		snprintf(s->err, sizeof(s->err), "stream is truncated: no complete header");
		return r;
	}
	if (r < 0) {
		read_failed(s, r);
		return r;
	}
	s->offset += sizeof(p);
	if (memcmp(p.magic, FR_STREAM_MAGIC, sizeof(p.magic)) != 0) {
		snprintf(s->err, sizeof(s->err), "not a ferry stream (bad magic)");
		return -EPROTO;
	}
	if (p.version != FR_STREAM_VERSION) {
		snprintf(s->err, sizeof(s->err), "unsupported stream format version %u (this ferry reads version %u)",
			 p.version, FR_STREAM_VERSION);
		return -EPROTO;
	}
	if (p.flags != 0) {
		snprintf(s->err, sizeof(s->err), "unsupported stream flags %#x (this ferry knows none)", p.flags);
		return -EPROTO;
	}
	return 0;
}

/* The payload of a compressed record, decompressed into s->dbuf. */
static int inflate(struct fr_stream *s, const struct record_header *h, uint64_t at, const uint8_t **payload,
		   uint32_t *len)
{
	uint32_t raw = 0;
	if (h->len >= sizeof(raw))
		memcpy(&raw, s->rbuf, sizeof(raw));
	if (raw > FR_RECORD_MAX) {
		snprintf(s->err, sizeof(s->err), "stream is corrupted: compressed record at offset %llu claims %u bytes",
			 (unsigned long long)at, raw);
		return -EBADMSG;
	}
	if (raw > s->dcap) {
		uint8_t *nb = realloc(s->dbuf, raw);
		if (!nb) {
			snprintf(s->err, sizeof(s->err), "out of memory while decompressing a %u-byte record", raw);
			return -ENOMEM;
		}
		s->dbuf = nb;
		s->dcap = raw;
	}
	size_t got;
	if (decompress_payload((enum fr_compress)h->flags, s->rbuf, h->len, s->dbuf, s->dcap, &got) < 0) {
		snprintf(s->err, sizeof(s->err), "stream is corrupted: %s record at offset %llu does not decompress",
			 fr_compress_name((enum fr_compress)h->flags), (unsigned long long)at);
		return -EBADMSG;
	}
	*payload = s->dbuf;
	*len = (uint32_t)got;
	return 0;
}

int stream_read_record(struct fr_stream *s, uint16_t *type, const uint8_t **payload, uint32_t *len)
{
	struct record_header h;
	uint64_t at = s->offset;
	s->err[0] = '\0';
	size_t got;
	int r = read_bytes(s, &h, sizeof(h), &got);
	if (r == -ENODATA && got == 0)
		return -ENODATA; /* clean end: the caller decides if a DONE was owed */
	const char *bad = r == 0 ? header_invalid(&h, s->accept_compress) : NULL;
	if (bad) {
		snprintf(s->err, sizeof(s->err), "stream is corrupted: invalid record header at offset %llu: %s (type %u, flags %#x, length %u)",
			 (unsigned long long)at, bad, h.type, h.flags, h.len);
		return -EBADMSG;
	}
	if (r == 0 && h.len > s->rcap) {
		uint8_t *nb = realloc(s->rbuf, h.len);
		if (!nb) {
			snprintf(s->err, sizeof(s->err), "out of memory while reading a %u-byte %s record", h.len,
				 fr_record_name(h.type));
			return -ENOMEM;
		}
		s->rbuf = nb;
		s->rcap = h.len;
	}
	if (r == 0)
		r = read_bytes(s, s->rbuf, h.len, &got);
	if (r == -ETIMEDOUT)
		return r;
	if (r == -ENODATA) {
		snprintf(s->err, sizeof(s->err), "stream is truncated: record at offset %llu is incomplete",
			 (unsigned long long)at);
		return r;
	}
	if (r < 0) {
		read_failed(s, r);
		return r;
	}
	uint32_t crc = crc32c(0, &h, offsetof(struct record_header, crc));
	crc = crc32c(crc, s->rbuf, h.len);
	if (crc != h.crc) {
		snprintf(s->err, sizeof(s->err), "stream is corrupted: checksum mismatch in %s record at offset %llu",
			 fr_record_name(h.type), (unsigned long long)at);
		return -EBADMSG;
	}
	s->offset += sizeof(h) + h.len;
	s->records++;
	*type = h.type;
	*payload = s->rbuf;
	*len = h.len;
	return h.flags ? inflate(s, &h, at, payload, len) : 0;
}
