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
void encode_done(struct buf *b, const struct fr_done *d);
int decode_done(const uint8_t *p, uint32_t len, struct fr_done *out);
void encode_discard(struct buf *b, const struct fr_discard *d);
int decode_discard(const uint8_t *p, uint32_t len, uint32_t page_size, struct fr_discard *out);
/* Checks the header and that exactly npages pages follow. */
int decode_pages_hdr(const uint8_t *p, uint32_t len, uint32_t page_size, struct fr_pages_hdr *out);

#endif
