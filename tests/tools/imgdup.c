/* imgdup — test tool: rewrites a ferry image so that every page arrives
 * twice, first with every bit inverted, then with its real content. A
 * restore of the result must give the process its real memory (the last
 * copy of a page wins). Usage: imgdup IN OUT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/codec.h"
#include "state/stream.h"

static int die(const char *what, int r)
{
	fprintf(stderr, "imgdup: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: imgdup IN OUT\n");
		return 2;
	}
	int in = open(argv[1], O_RDONLY), out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		return die("open", errno);
	struct fr_stream rs, ws;
	stream_init(&rs, in);
	stream_init(&ws, out);
	int r = stream_read_preamble(&rs);
	if (r < 0 || (r = stream_write_preamble(&ws)) < 0)
		return die("preamble", r);
	uint64_t page_records = 0, pages = 0;
	long page = sysconf(_SC_PAGESIZE);
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		if ((r = stream_read_record(&rs, &type, &p, &len)) < 0)
			return die(rs.err[0] ? rs.err : "read", r);
		if (type == REC_DONE) {
			struct buf b = {0};
			struct fr_done d = {.page_records = page_records, .pages = pages};
			encode_done(&b, &d);
			r = stream_write_record(&ws, REC_DONE, b.data, b.len);
			buf_free(&b);
			if (r < 0)
				return die("write", r);
			break;
		}
		if (type == REC_PAGES) {
			struct fr_pages_hdr h;
			if (decode_pages_hdr(p, len, (uint32_t)page, &h) < 0)
				return die("pages record", EBADMSG);
			uint8_t *garbage = malloc(len);
			if (!garbage)
				return die("malloc", ENOMEM);
			memcpy(garbage, p, sizeof(h));
			for (uint32_t i = sizeof(h); i < len; i++)
				garbage[i] = (uint8_t)~p[i];
			r = stream_write_record(&ws, REC_PAGES, garbage, len);
			free(garbage);
			if (r < 0)
				return die("write", r);
			page_records += 2;
			pages += 2ull * h.npages;
		}
		if ((r = stream_write_record(&ws, type, p, len)) < 0)
			return die("write", r);
	}
	stream_release(&rs);
	return close(out) < 0 ? die("close", errno) : 0;
}
