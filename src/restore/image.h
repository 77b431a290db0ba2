/* image.h — the restore's metadata reader: stream records -> struct
 * fr_image, with every cross-record rule checked (thread count, sorted
 * fds and mappings, shared descriptions, caps from this host), and the
 * check that a PAGES record lands inside one restored mapping. Pure: it
 * reads the stream and allocates, nothing else (no process is created),
 * so tests and the fuzzer call it directly. */
#ifndef FERRY_RESTORE_IMAGE_H
#define FERRY_RESTORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../state/codec.h"
#include "../state/model.h"
#include "../state/stream.h"

/* How many records of each kind a stream may bring: beyond these the host
 * could not restore the process anyway, and memory must not grow without
 * bound on a hostile stream. */
struct image_limits {
	uint32_t max_threads; /* THREAD records: kernel.threads-max, at most IMAGE_THREADS_MAX */
	uint32_t max_vmas;    /* VMA records: vm.max_map_count */
	uint32_t max_fds;     /* FILE records and fd numbers: the RLIMIT_NOFILE hard limit */
	uint32_t max_pending; /* queued signals, process and threads together: RLIMIT_SIGPENDING
			       * (the restore could not queue more) */
};

/* Fills lim from this host (/proc/sys/kernel/threads-max,
 * /proc/sys/vm/max_map_count, getrlimit(RLIMIT_NOFILE, RLIMIT_SIGPENDING)); a value that
 * cannot be read falls back to a conservative constant. */
void image_limits_of_host(struct image_limits *lim);

/* Reads the preamble and the HELLO to VMA records into img (the caller
 * frees it with fr_image_free, also after an error); stops at the first
 * PAGES or DONE record, left in type, p and len. err gets the one-line
 * reason of a failure. */
int image_read_metadata(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, uint16_t *type,
			const uint8_t **p, uint32_t *len, char *err, size_t errlen);
/* The same from just after the HELLO record (a migration reads the preamble,
 * HELLO and its offer itself). */
int image_read_state(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, uint16_t *type,
		     const uint8_t **p, uint32_t *len, char *err, size_t errlen);

/* A pre-copy round's layout: the VMA records from the one in hand (type,
 * p, len) on, checked as image_read_state checks them, into layout's vmas;
 * stops at the round's first PAGES, DISCARD or ROUND_END record. */
int image_read_layout(struct fr_stream *s, const struct image_limits *lim, struct fr_image *layout, uint16_t *type,
		      const uint8_t **p, uint32_t *len, char *err, size_t errlen);

/* Decodes a PAGES payload and checks that its whole range lies inside one
 * mapping of img that carries pages. -EBADMSG with err filled if not. */
int image_check_pages(const struct fr_image *img, uint32_t page_size, const uint8_t *p, uint32_t len,
		      struct fr_pages_hdr *h, char *err, size_t errlen);

/* The same for a DISCARD payload; returns the mapping it falls in, or NULL
 * with err filled. */
const struct fr_vma *image_check_discard(const struct fr_image *img, uint32_t page_size, const uint8_t *p,
					 uint32_t len, struct fr_discard *d, char *err, size_t errlen);

/* Where fd is, or would go, among the first n FILE records (sorted by fd). */
uint32_t image_file_index(const struct fr_image *img, uint32_t n, int32_t fd);

/* Reads the next record; a clean end of input is reported as a stream
 * truncated before its end record. err gets the one-line reason. */
int restore_read_record(struct fr_stream *s, uint16_t *type, const uint8_t **p, uint32_t *len, char *err,
			size_t errlen);

#endif
