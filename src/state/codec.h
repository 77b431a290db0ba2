/* codec.h — model structs <-> record payloads. Encoders append to a buf;
 * decoders validate lengths and ranges and return -EBADMSG on anything
 * malformed, so a corrupted stream that passes its CRC still cannot make
 * restore read or map garbage. */
#ifndef FERRY_CODEC_H
#define FERRY_CODEC_H

#include <stdint.h>

#include "buf.h"
#include "model.h"

struct fr_hello {
	uint32_t page_size;
	char *arch;    /* "x86_64" */
	char *kernel;  /* uname release of the source */
	char *host;    /* nodename of the source */
};

/* Header of a REC_PAGES payload; npages * page_size bytes of data follow. */
struct fr_pages_hdr {
	uint64_t addr;
	uint32_t npages;
	uint32_t flags; /* reserved: a writer sets 0, a reader refuses anything else */
};

/* A REC_DISCARD payload: pages the destination drops back to what a fresh
 * mapping holds (zero for anonymous memory, the file's page for a private
 * file mapping): written to zero, or unmapped with MADV_DONTNEED, since an
 * earlier pre-copy round sent them. REC_LAZY (pages that hold data at the
 * source, sent after the switch) and REC_PAGE_REQ (pages the destination
 * asks for) carry the same page range. */
struct fr_discard {
	uint64_t addr;
	uint32_t npages;
};

/* DONE and ROUND_END: how many PAGES records and pages came before it
 * (since the previous ROUND_END, for a pre-copy round). */
struct fr_done {
	uint64_t page_records;
	uint64_t pages;
};

/* After a decoder returned -EBADMSG: the field or rule it refused, for the
 * one-line message ("share_of (must be -1 or a lower fd)"). Per thread. */
const char *codec_why(void);

void encode_hello(struct buf *b, const struct fr_hello *h);
int decode_hello(const uint8_t *p, uint32_t len, struct fr_hello *h);
void fr_hello_free(struct fr_hello *h);

void encode_process(struct buf *b, const struct fr_process *p);
int decode_process(const uint8_t *p, uint32_t len, struct fr_process *out);
void encode_thread(struct buf *b, const struct fr_thread *t);
int decode_thread(const uint8_t *p, uint32_t len, struct fr_thread *out);
void encode_vma(struct buf *b, const struct fr_vma *v);
int decode_vma(const uint8_t *p, uint32_t len, struct fr_vma *out);
void encode_file(struct buf *b, const struct fr_file *f);
int decode_file(const uint8_t *p, uint32_t len, struct fr_file *out);
void encode_shm(struct buf *b, const struct fr_shm *m);
int decode_shm(const uint8_t *p, uint32_t len, struct fr_shm *out);
void encode_posix_timer(struct buf *b, const struct fr_posix_timer *t);
int decode_posix_timer(const uint8_t *p, uint32_t len, struct fr_posix_timer *out);
void encode_file_lock(struct buf *b, const struct fr_lock *l);
int decode_file_lock(const uint8_t *p, uint32_t len, struct fr_lock *out);
/* The fr_fdobj part of a FILE record of a kind that has one
 * (codec_fdobj.c); decode_file calls it. decode_fdobj always sets *out
 * (free it with fr_fdobj_free, also on failure) and, on -EBADMSG, *why. */
void encode_fdobj(struct buf *b, const struct fr_fdobj *o);
int decode_fdobj(struct buf_reader *r, uint32_t kind, struct fr_fdobj **out, const char **why);
/* The socket options a record may carry: level, name and value size. */
struct fr_sockopt_kind {
	int32_t level, name;
	uint32_t len;
};
extern const struct fr_sockopt_kind fr_sockopt_list[];
extern const size_t fr_sockopt_count;
const struct fr_sockopt_kind *fr_sockopt_find(int32_t level, int32_t name);

void encode_done(struct buf *b, const struct fr_done *d);
int decode_done(const uint8_t *p, uint32_t len, struct fr_done *out);
void encode_discard(struct buf *b, const struct fr_discard *d);
int decode_discard(const uint8_t *p, uint32_t len, uint32_t page_size, struct fr_discard *out);
/* Checks the header and that exactly npages pages follow. */
int decode_pages_hdr(const uint8_t *p, uint32_t len, uint32_t page_size, struct fr_pages_hdr *out);

#endif
