/* pages_in.c — the page phase of a restore: REC_PAGES records are placed
 * into the stub until the DONE record, whose counts must match. From a
 * pipe or socket records are read one by one; from an image file the rest
 * of the file is mapped, the records are indexed, and one worker per core
 * verifies CRCs and writes pages straight from the mapping (no copy into
 * ferry's memory; the page faults of the new process are spread over the
 * cores, which is where a restore spends its time). If any page comes more
 * than once, one worker applies the records in stream order, so the last
 * copy of a page wins as the stream format promises. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../mem/pages.h"
#include "../state/codec.h"
#include "internal.h"

#define PAGE_WORKERS_MAX 4

struct indexed_record {
	uint64_t offset;     /* in the image file */
	uint64_t start, end; /* the address range it fills */
};

struct mapped_pages {
	const uint8_t *base;          /* the whole image file, mapped */
	const struct fr_image *img;
	struct indexed_record *recs;  /* the PAGES records still to apply, in stream order */
	size_t n;
	size_t next;         /* atomic */
	int error;           /* atomic: first error */
	struct page_writer *pw;
	char *err;
	size_t errlen;
};

static int apply_record(struct page_writer *pw, const struct fr_image *img, const uint8_t *p, uint32_t len,
			char *err, size_t errlen)
{
	struct fr_pages_hdr h;
	int r = image_check_pages(img, pw->page_size, p, len, &h, err, errlen);
	if (r < 0)
		return r;
	r = page_writer_apply(pw, &h, p + sizeof(h));
	if (r < 0)
		snprintf(err, errlen, "cannot write %u pages at %#llx: %s", h.npages, (unsigned long long)h.addr,
			 r == -EBADMSG ? "outside the restored memory (corrupted stream)" : strerror(-r));
	return r;
}

static int check_done(const uint8_t *p, uint32_t len, uint64_t records, uint64_t pages, char *err, size_t errlen)
{
	struct fr_done d;
	if (decode_done(p, len, &d) < 0 || d.page_records != records || d.pages != pages) {
		snprintf(err, errlen, "stream is corrupted: the end record counts %llu page records and %llu pages, "
				      "%llu and %llu arrived", (unsigned long long)d.page_records, (unsigned long long)d.pages,
			 (unsigned long long)records, (unsigned long long)pages);
		return -EBADMSG;
	}
	return 0;
}

static void *mapped_worker(void *arg)
{
	struct mapped_pages *m = arg;
	for (;;) {
		if (__atomic_load_n(&m->error, __ATOMIC_RELAXED))
			break;
		size_t i = __atomic_fetch_add(&m->next, 1, __ATOMIC_RELAXED);
		if (i >= m->n)
			break;
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		size_t size;
		char err[256];
		int r = stream_check_record(m->base + m->recs[i].offset, SIZE_MAX, true, &type, &p, &len, &size);
		if (r < 0)
			snprintf(err, sizeof(err), "stream is corrupted: checksum mismatch in pages record at offset %llu",
				 (unsigned long long)m->recs[i].offset);
		else
			r = apply_record(m->pw, m->img, p, len, err, sizeof(err));
		if (r < 0) {
			int expected = 0;
			if (__atomic_compare_exchange_n(&m->error, &expected, r, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				snprintf(m->err, m->errlen, "%s", err);
			break;
		}
	}
	return NULL;
}

static int cmp_start(const void *a, const void *b)
{
	const struct indexed_record *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

/* Does any page come more than once? Then only stream order makes the last
 * copy win, and the records must be applied one after the other. */
static bool ranges_overlap(const struct indexed_record *recs, size_t n)
{
	struct indexed_record *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted)
		return true; /* cannot tell: take the safe order */
	memcpy(sorted, recs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_start);
	bool overlap = false;
	for (size_t i = 1; i < n && !overlap; i++)
		overlap = sorted[i].start < sorted[i - 1].end;
	free(sorted);
	return overlap;
}

/* Indexes the records from s->offset to the DONE record of a mapped image. */
static int index_records(const uint8_t *base, uint64_t size, uint64_t off, uint32_t page_size, struct mapped_pages *m,
			 uint64_t *done_off, char *err, size_t errlen)
{
	size_t cap = 0;
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		size_t rsize;
		int r = stream_check_record(base + off, size - off, false, &type, &p, &len, &rsize);
		if (r == -ENODATA) {
			snprintf(err, errlen, off == size ? "stream is truncated: it ends without an end record"
							  : "stream is truncated: record at offset %llu is incomplete",
				 (unsigned long long)off);
			return r;
		}
		if (r < 0 || (type != REC_PAGES && type != REC_DONE)) {
			snprintf(err, errlen, "stream is corrupted: invalid record at offset %llu", (unsigned long long)off);
			return -EBADMSG;
		}
		if (type == REC_DONE) {
			*done_off = off;
			return 0;
		}
		struct fr_pages_hdr h;
		if (image_check_pages(m->img, page_size, p, len, &h, err, errlen) < 0)
			return -EBADMSG;
		if (m->n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct indexed_record *nr = realloc(m->recs, cap * sizeof(*nr));
			if (!nr) {
				snprintf(err, errlen, "out of memory while indexing %zu pages records", m->n);
				return -ENOMEM;
			}
			m->recs = nr;
		}
		m->recs[m->n++] = (struct indexed_record){
			.offset = off, .start = h.addr, .end = h.addr + (uint64_t)h.npages * page_size};
		off += rsize;
	}
}

static int pages_from_mapping(struct fr_stream *s, struct page_writer *pw, const struct fr_image *img,
			      uint64_t *records, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(s->fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat the image: %s", strerror(errno));
		return neg_errno();
	}
	uint64_t size = (uint64_t)st.st_size;
	if (s->offset > size) {
		snprintf(err, errlen, "the image shrank while it was read");
		return -EIO;
	}
	if (s->offset == size) {
		snprintf(err, errlen, "stream is truncated: it ends without an end record");
		return -ENODATA;
	}
	const uint8_t *base = mmap(NULL, size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (base == MAP_FAILED) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot map the image (%llu bytes)%s: %s", (unsigned long long)size,
			 e == -ENOMEM ? ", out of memory" : "", strerror(-e));
		return e;
	}
	struct mapped_pages m = {.base = base, .img = img, .pw = pw, .err = err, .errlen = errlen};
	uint64_t done_off = 0;
	int r = index_records(base, size, s->offset, pw->page_size, &m, &done_off, err, errlen);
	if (r == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		int nw = ranges_overlap(m.recs, m.n) ? 1 : (int)MAX(1, MIN(ncpu, PAGE_WORKERS_MAX));
		pthread_t tid[PAGE_WORKERS_MAX];
		int started = 1;
		for (int i = 1; i < nw; i++) {
			if (pthread_create(&tid[i], NULL, mapped_worker, &m) != 0)
				break;
			started++;
		}
		mapped_worker(&m);
		for (int i = 1; i < started; i++)
			pthread_join(tid[i], NULL);
		r = m.error;
	}
	if (r == 0) {
		*records += m.n;
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		size_t rsize;
		if (stream_check_record(base + done_off, size - done_off, true, &type, &p, &len, &rsize) < 0) {
			snprintf(err, errlen, "stream is corrupted: checksum mismatch in the end record");
			r = -EBADMSG;
		} else {
			r = check_done(p, len, *records, pw->pages, err, errlen);
		}
	}
	free(m.recs);
	munmap((void *)base, size);
	return r;
}

const char *pages_path_name(enum pages_path p)
{
	return p == PAGES_PATH_UFFDIO_COPY ? "uffdio_copy" : "process_vm_writev";
}

#define ZERO_CHUNK_PAGES 64

/* A DISCARD record: a private file mapping's pages are dropped (they read
 * as the file's again); anonymous memory is written with zeros. */
static int apply_discard(struct page_writer *pw, struct stub *stub, const struct fr_image *img, const uint8_t *p,
			 uint32_t len, char *err, size_t errlen)
{
	struct fr_discard d;
	const struct fr_vma *v = image_check_discard(img, pw->page_size, p, len, &d, err, errlen);
	if (!v)
		return -EBADMSG;
	uint64_t bytes = (uint64_t)d.npages * pw->page_size;
	int r = 0;
	if (v->kind == VMA_FILE_PRIVATE) { /* back to the file's pages: only the kernel can do that */
		r = mm_discard(stub, d.addr, bytes);
	} else { /* zeros, written: a remote madvise costs far more than a few pages of memset */
		static const uint8_t zeros[ZERO_CHUNK_PAGES * 4096];
		uint32_t per = (uint32_t)MIN((size_t)ZERO_CHUNK_PAGES, sizeof(zeros) / pw->page_size);
		struct page_writer counts = *pw; /* zeros are not pages of the stream: keep the counts */
		for (uint32_t at = 0; r == 0 && at < d.npages; at += per) {
			struct fr_pages_hdr h = {.addr = d.addr + (uint64_t)at * pw->page_size, .npages = MIN(per, d.npages - at)};
			r = page_writer_apply(pw, &h, zeros); /* UFFDIO_COPY where missing under a uffd: no fault waits */
		}
		pw->pages = counts.pages, pw->pages_uffdio_copy = counts.pages_uffdio_copy;
		pw->pages_process_vm_writev = counts.pages_process_vm_writev, pw->pages_proc_mem = counts.pages_proc_mem;
	}
	if (r < 0)
		snprintf(err, errlen, "cannot discard %u pages at %#llx: %s", d.npages, (unsigned long long)d.addr,
			 strerror(-r));
	return r;
}

/* A LAZY record (post-copy): pages of a lazy mapping that come later. */
static int add_lazy(struct page_writer *pw, const struct fr_image *img, struct range_list *lazy, const uint8_t *p,
		    uint32_t len, char *err, size_t errlen)
{
	struct fr_discard d;
	const struct fr_vma *v = image_check_discard(img, pw->page_size, p, len, &d, err, errlen);
	if (!v)
		return -EBADMSG;
	uint64_t end = d.addr + (uint64_t)d.npages * pw->page_size;
	if (!lazy || !fr_vma_lazy(v) || (lazy->n && lazy->v[lazy->n - 1].end > d.addr)) {
		snprintf(err, errlen, "stream is corrupted: a lazy range at %#llx %s", (unsigned long long)d.addr,
			 !lazy ? "in a stream that is not post-copy" : !fr_vma_lazy(v) ? "outside lazy memory" : "out of order");
		return -EBADMSG;
	}
	return range_list_add(lazy, d.addr, end);
}

/* Places PAGES and DISCARD records from the one in hand up to the record
 * `end` (DONE, or a pre-copy round's ROUND_END), whose counts must match. */
static int place_records(struct fr_stream *s, struct page_writer *pw, struct stub *stub, const struct fr_image *img,
			 uint16_t end, uint16_t type, const uint8_t *p, uint32_t len, struct range_list *lazy,
			 uint64_t *records, char *err, size_t errlen)
{
	uint64_t pages0 = pw->pages, n = 0;
	int r;
	for (;;) {
		if (type == end) {
			r = check_done(p, len, n, pw->pages - pages0, err, errlen);
			break;
		}
		if (type == REC_DISCARD) {
			if ((r = apply_discard(pw, stub, img, p, len, err, errlen)) < 0)
				break;
		} else if (type == REC_LAZY) {
			if ((r = add_lazy(pw, img, lazy, p, len, err, errlen)) < 0)
				break;
		} else if (type != REC_PAGES) {
			snprintf(err, errlen, "stream is corrupted: unexpected %s record among pages", fr_record_name(type));
			r = -EBADMSG;
			break;
		} else {
			if ((r = apply_record(pw, img, p, len, err, errlen)) < 0)
				break;
			n++;
			if (s->seekable && end == REC_DONE) {
				r = pages_from_mapping(s, pw, img, &n, err, errlen);
				break;
			}
		}
		if ((r = restore_read_record(s, &type, &p, &len, err, errlen)) < 0)
			break;
	}
	*records += n;
	return r;
}

int restore_round_pages(struct fr_stream *s, struct stub *stub, const struct fr_image *layout, uint16_t type,
			const uint8_t *p, uint32_t len, struct restore_stats *st, char *err, size_t errlen)
{
	struct page_writer pw;
	int r = page_writer_open(&pw, stub->pid, layout->vmas, layout->nvmas);
	if (r < 0) {
		snprintf(err, errlen, "cannot open the new process's memory: %s", strerror(-r));
		return r;
	}
	r = place_records(s, &pw, stub, layout, REC_ROUND_END, type, p, len, NULL, &st->records, err, errlen);
	st->pages += pw.pages;
	st->page_bytes += pw.pages * pw.page_size;
	st->pages_process_vm_writev += pw.pages_process_vm_writev;
	st->pages_proc_mem += pw.pages_proc_mem;
	page_writer_close(&pw);
	return r;
}

int restore_pages(struct fr_stream *s, struct stub *stub, int uffd, const struct fr_image *img, uint16_t type,
		  const uint8_t *p, uint32_t len, struct restore_lazy *lazy, struct restore_stats *st, char *err,
		  size_t errlen)
{
	struct page_writer pw;
	int r = page_writer_open(&pw, stub->pid, img->vmas, img->nvmas);
	if (r < 0) {
		if (uffd >= 0)
			close(uffd);
		snprintf(err, errlen, "cannot open the new process's memory: %s", strerror(-r));
		return r;
	}
	if (uffd >= 0 && (r = page_writer_use_uffd(&pw, uffd)) < 0) {
		snprintf(st->pages_path_why, sizeof(st->pages_path_why), "userfaultfd registration failed: %s",
			 strerror(-r));
		pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
		close(uffd);
	}
	st->pages_path = pw.uffd >= 0 ? PAGES_PATH_UFFDIO_COPY : PAGES_PATH_PROCESS_VM_WRITEV;
	r = place_records(s, &pw, stub, img, REC_DONE, type, p, len, lazy ? &lazy->pages : NULL, &st->records, err,
			  errlen);
	if (lazy) {
		lazy->uffd = page_writer_keep_uffd(&pw);
		st->pages_lazy = range_list_bytes(&lazy->pages) / pw.page_size;
	}
	st->pages += pw.pages;
	st->page_bytes += pw.pages * pw.page_size;
	st->pages_uffdio_copy += pw.pages_uffdio_copy;
	st->pages_process_vm_writev += pw.pages_process_vm_writev;
	st->pages_proc_mem += pw.pages_proc_mem;
	page_writer_close(&pw);
	return r;
}
