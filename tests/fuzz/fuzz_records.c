/* fuzz_records.c — libFuzzer target for everything that decodes bytes from
 * a peer: the stream framing (preamble, record headers), every record
 * decoder (the migration's control records too), and the restore's metadata reader with the PAGES range check
 * (restore/image.c), which turns records into an fr_image without creating
 * any process. `make fuzz` builds it with ASan + UBSan and runs it for
 * FUZZ_SECONDS on the corpus in tests/fuzz/corpus/.
 *
 * The input is a stream. Before it is read, the CRC of every complete
 * record is recomputed (unless the input's last byte is 0xff): otherwise
 * almost every mutation would stop at the checksum and the decoders behind
 * it would never see a changed payload. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "restore/image.h"
#include "state/compress.h"
#include "state/control.h"
#include "state/crc32c.h"

#define PREAMBLE_SIZE 16
#define CRC_OFFSET 8       /* in the record header: type, flags, length, crc */
#define KEEP_CRC_MARK 0xff /* a last byte that leaves the checksums as they are */

/* Caps small enough that the fuzzer reaches them with small inputs. */
static const struct image_limits fuzz_limits = {.max_threads = 16, .max_vmas = 64, .max_fds = 64, .max_pending = 64};

static void fix_crcs(uint8_t *d, size_t size)
{
	size_t off = PREAMBLE_SIZE;
	while (off + FR_RECORD_HEADER_SIZE <= size) {
		uint32_t len;
		memcpy(&len, d + off + 4, sizeof(len));
		if (len > size - off - FR_RECORD_HEADER_SIZE)
			return;
		uint32_t crc = crc32c(0, d + off, CRC_OFFSET);
		crc = crc32c(crc, d + off + FR_RECORD_HEADER_SIZE, len);
		memcpy(d + off + CRC_OFFSET, &crc, sizeof(crc));
		off += FR_RECORD_HEADER_SIZE + len;
	}
}

/* What a restore does with a stream, short of creating the process. */
static void read_stream(int fd)
{
	struct fr_stream s;
	stream_init(&s, fd);
	s.accept_compress = 1u << FR_COMPRESS_LZ4 | 1u << FR_COMPRESS_ZSTD; /* as a migration's reader */
	struct fr_image img = {0};
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	char err[512];
	uint32_t page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	int r = image_read_metadata(&s, &fuzz_limits, &img, &type, &p, &len, err, sizeof(err));
	while (r == 0 && (type == REC_PAGES || type == REC_DISCARD)) {
		struct fr_pages_hdr h;
		struct fr_discard dc;
		if (type == REC_PAGES ? image_check_pages(&img, page_size, p, len, &h, err, sizeof(err)) < 0
				      : !image_check_discard(&img, page_size, p, len, &dc, err, sizeof(err)))
			break;
		r = restore_read_record(&s, &type, &p, &len, err, sizeof(err));
	}
	if (r == 0 && type == REC_DONE) {
		struct fr_done d;
		decode_done(p, len, &d);
	}
	fr_image_free(&img);
	stream_release(&s);
}

/* A pre-copy receiver's rounds: after the preamble, each round's layout
 * (VMA records) and the PAGES / DISCARD records checked against it. */
static void read_rounds(int fd)
{
	struct fr_stream s;
	stream_init(&s, fd);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	char err[512];
	uint32_t page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	int r = stream_read_preamble(&s);
	if (r == 0)
		r = restore_read_record(&s, &type, &p, &len, err, sizeof(err));
	while (r == 0 && type == REC_VMA) {
		struct fr_image layout = {0};
		r = image_read_layout(&s, &fuzz_limits, &layout, &type, &p, &len, err, sizeof(err));
		while (r == 0 && (type == REC_PAGES || type == REC_DISCARD)) {
			struct fr_pages_hdr h;
			struct fr_discard dc;
			if (type == REC_PAGES ? image_check_pages(&layout, page_size, p, len, &h, err, sizeof(err)) < 0
					      : !image_check_discard(&layout, page_size, p, len, &dc, err, sizeof(err)))
				r = -EBADMSG;
			else
				r = restore_read_record(&s, &type, &p, &len, err, sizeof(err));
		}
		if (r == 0 && type == REC_ROUND_END)
			r = restore_read_record(&s, &type, &p, &len, err, sizeof(err));
		fr_image_free(&layout);
	}
	stream_release(&s);
}

/* A live migration's control records, as `ferry receive` and `ferry send`
 * decode them. */
static void decode_control(uint16_t type, const uint8_t *p, uint32_t len)
{
	struct fr_offer o;
	char *reason;
	uint64_t v;
	if (type == REC_OFFER && decode_offer(p, len, &o) == 0)
		fr_offer_free(&o);
	else if (type == REC_REFUSE && decode_refuse(p, len, &reason) == 0)
		free(reason);
	else if (type == REC_READY || type == REC_RUNNING || type == REC_ROUND_END)
		decode_u64_record(p, len, &v);
}

/* The in-place record checker of a mapped image, over the same bytes, and
 * the control decoders on every record it passes. */
static void check_in_place(const uint8_t *d, size_t size)
{
	size_t off = size < PREAMBLE_SIZE ? size : PREAMBLE_SIZE;
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		size_t rsize;
		if (stream_check_record(d + off, size - off, true, &type, &p, &len, &rsize) < 0)
			return;
		decode_control(type, p, len);
		off += rsize;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("fuzz-stream", 0)) < 0)
		abort();
	uint8_t *d = malloc(size ? size : 1);
	if (!d)
		abort();
	memcpy(d, data, size);
	if (!size || d[size - 1] != KEEP_CRC_MARK)
		fix_crcs(d, size);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, d, size, 0) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	read_stream(fd);
	if (lseek(fd, 0, SEEK_SET) == 0)
		read_rounds(fd);
	check_in_place(d, size);
	free(d);
	return 0;
}
