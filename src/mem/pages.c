/* pages.c — see pages.h. */
#include "pages.h"
#include "pagemap.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#include "../common/interrupt.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "../state/codec.h"

#define RUN_PAGES_MAX 512     /* pages per read and per record: 2 MiB */
#define PAGEMAP_CHUNK 4096    /* pagemap entries read at a time (16 MiB of address space) */
#define DUMP_WORKERS_MAX 4    /* page workers: one per core, at most this many */

/* A stretch of pages to copy, planned before the copying starts so that
 * several workers can share the work. */
enum run_source { SRC_PRIVATE, SRC_SHMEM, SRC_DISCARD /* nothing to read: a DISCARD record */ };
struct run {
	uint64_t addr;
	uint32_t npages;
	uint32_t vma;       /* index of its VMA: a record never crosses a VMA */
	uint8_t source;     /* enum run_source */
	bool readable;      /* process_vm_readv can read it (else /proc/PID/mem) */
	bool elide_zero;    /* anonymous memory: all-zero pages need not travel */
	bool discard_zero;  /* ...but were sent before: they travel as DISCARD */
	int shmem_fd;       /* SRC_SHMEM: /proc/PID/map_files fd */
	uint64_t shmem_off; /* SRC_SHMEM: offset of addr in that object */
};

struct plan {
	long page;
	uint32_t shmem_vma; /* the VMA whose map_files fd is fds[nfds - 1] */
	struct run *runs;
	size_t nruns, cap;
	int *fds;
	size_t nfds;
	uint64_t total_bytes;
};

struct dump_ctx {
	pid_t pid;
	bool live;               /* the process runs: a run that cannot be read is listed, not fatal */
	struct range_list *unread;
	pthread_mutex_t unread_lock;
	int mem_fd;
	long page;
	struct fr_stream *s;
	const struct plan *plan;
	size_t next_run;     /* atomic: the next run a worker takes */
	uint64_t done_bytes; /* atomic */
	int error;           /* first error, atomic */
	page_progress_fn progress;
	void *progress_arg;
	bool stalled; /* the "pages" stall point was passed */
	char *err;
	size_t errlen;
};

struct worker {
	struct dump_ctx *c;
	uint8_t *buf;
	struct page_stats st;
	bool reports_progress;
};

/* Stops at the first 64 bytes that are not zero: a page of data costs a
 * cache line or two, not a read of the whole page. */
static bool page_is_zero(const uint8_t *p, long len)
{
	const uint64_t *w = (const uint64_t *)p;
	for (long i = 0; i < len / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

static int plan_add(struct plan *pl, struct run r)
{
	if (pl->nruns && r.source != SRC_SHMEM) { /* extend the previous run if contiguous */
		struct run *last = &pl->runs[pl->nruns - 1];
		if (last->source == r.source && last->vma == r.vma && last->discard_zero == r.discard_zero &&
		    last->addr + (uint64_t)last->npages * (uint64_t)pl->page == r.addr && last->npages + r.npages <= RUN_PAGES_MAX) {
			last->npages += r.npages;
			return 0;
		}
	}
	if (pl->nruns == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 256;
		struct run *nr = realloc(pl->runs, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		pl->runs = nr;
		pl->cap = cap;
	}
	pl->runs[pl->nruns++] = r;
	return 0;
}

static bool pm_mine(uint64_t e, bool anon)
{
	return (e & PM_SWAPPED) || ((e & PM_PRESENT) && (anon || !(e & PM_FILE)));
}

/* Private mappings: pagemap says which pages of [lo, hi) are the process's
 * own. A page sent before (`again`) that is now absent, or zero in anonymous
 * memory, becomes a DISCARD run: the destination still holds its old copy. */
static int plan_private_vma(struct plan *pl, int pagemap_fd, long page, const struct fr_vma *v, uint32_t vi,
			    uint64_t lo, uint64_t hi, bool again, uint64_t *pm)
{
	bool anon = v->kind == VMA_ANON;
	uint64_t npages = (hi - lo) / (uint64_t)page;
	for (uint64_t base = 0; base < npages; base += PAGEMAP_CHUNK) {
		uint32_t chunk = (uint32_t)MIN((uint64_t)PAGEMAP_CHUNK, npages - base);
		uint64_t addr0 = lo + base * (uint64_t)page;
		ssize_t want = (ssize_t)(chunk * sizeof(uint64_t));
		if (pread(pagemap_fd, pm, (size_t)want, (off_t)(addr0 / (uint64_t)page * 8)) != want)
			return errno ? neg_errno() : -EIO;
		for (uint32_t i = 0; i < chunk;) {
			bool mine = pm_mine(pm[i], anon);
			if (!mine && !again) {
				i++;
				continue;
			}
			uint32_t j = i + 1;
			while (j < chunk && j - i < RUN_PAGES_MAX && pm_mine(pm[j], anon) == mine)
				j++;
			struct run r = {.addr = addr0 + (uint64_t)i * (uint64_t)page, .npages = j - i, .vma = vi,
					.source = mine ? SRC_PRIVATE : SRC_DISCARD, .readable = (v->prot & PROT_READ) != 0,
					.elide_zero = anon, .discard_zero = anon && again, .shmem_fd = -1};
			int e = plan_add(pl, r);
			if (e < 0)
				return e;
			i = j;
		}
	}
	return 0;
}

/* Shared anonymous memory: the shmem object itself says where data is. A
 * range sent before (`again`) is read whole: its zeros must travel too. */
static int plan_shmem_vma(struct plan *pl, pid_t pid, long page, const struct fr_vma *v, uint32_t vi, uint64_t lo,
			  uint64_t hi, bool again)
{
	if (pl->shmem_vma != vi || pl->nfds == 0) {
		char path[96];
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
			 (unsigned long long)v->end);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return neg_errno();
		int *nf = realloc(pl->fds, (pl->nfds + 1) * sizeof(*nf));
		if (!nf) {
			close(fd);
			return -ENOMEM;
		}
		pl->fds = nf;
		pl->fds[pl->nfds++] = fd;
		pl->shmem_vma = vi;
	}
	int fd = pl->fds[pl->nfds - 1];
	/* the shmem object holds this piece from v->pgoff on (mprotect splits one) */
	off_t base = (off_t)v->pgoff, size = base + (off_t)(hi - v->start), off = base + (off_t)(lo - v->start);
	while (off < size) {
		off_t data = again ? off : lseek(fd, off, SEEK_DATA);
		if (data < 0 || data >= size)
			break;
		off_t hole = again ? size : lseek(fd, data, SEEK_HOLE);
		if (hole <= data || hole > size) /* a System V segment's file answers SEEK_HOLE with 0 */
			hole = size;
		hole = MIN(size, (hole + page - 1) / page * page); /* its size need not be whole pages */
		for (off_t at = data; at < hole; at += (off_t)RUN_PAGES_MAX * page) {
			uint32_t np = (uint32_t)(MIN((off_t)RUN_PAGES_MAX * page, hole - at) / page);
			int r = plan_add(pl, (struct run){.addr = v->start + (uint64_t)(at - base), .npages = np, .vma = vi,
							  .source = SRC_SHMEM, .readable = true, .elide_zero = !again,
							  .shmem_fd = fd, .shmem_off = (uint64_t)at});
			if (r < 0)
				return r;
		}
		off = hole;
	}
	return 0;
}

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->nfds; i++)
		close(pl->fds[i]);
	free(pl->fds);
	free(pl->runs);
	*pl = (struct plan){0};
}

static int emit(struct worker *w, uint64_t addr, const uint8_t *data, uint32_t npages)
{
	struct fr_pages_hdr h = {.addr = addr, .npages = npages};
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
			       {.iov_base = (void *)data, .iov_len = (size_t)npages * (size_t)w->c->page}};
	int r = stream_write_recordv(w->c->s, REC_PAGES, iov, 2);
	if (r == 0) {
		w->st.pages_sent += npages;
		w->st.records++;
		w->st.bytes += iov[1].iov_len;
	}
	return r;
}

static int emit_discard(struct worker *w, uint64_t addr, uint32_t npages)
{
	struct fr_discard d = {.addr = addr, .npages = npages};
	uint8_t payload[sizeof(uint64_t) + sizeof(uint32_t)];
	memcpy(payload, &d.addr, sizeof(d.addr)); /* encode_discard's layout, without a buf per record */
	memcpy(payload + sizeof(d.addr), &d.npages, sizeof(d.npages));
	int r = stream_write_record(w->c->s, REC_DISCARD, payload, sizeof(payload));
	if (r == 0)
		w->st.pages_discarded += npages;
	return r;
}

/* Emits the pages of run r now in w->buf. All-zero pages of anonymous
 * memory do not travel as data: they are skipped (a fresh mapping is zero)
 * or, if an earlier round sent them, sent as one DISCARD per stretch. */
static int emit_runs(struct worker *w, const struct run *r)
{
	long page = w->c->page;
	w->st.pages_present += r->npages;
	uint32_t start = 0, zero_start = 0;
	for (uint32_t i = 0; i <= r->npages; i++) {
		bool zero = i < r->npages && r->elide_zero && page_is_zero(w->buf + (size_t)i * (size_t)page, page);
		if (i < r->npages && !zero) {
			if (r->discard_zero && i > zero_start) {
				int e = emit_discard(w, r->addr + (uint64_t)zero_start * (uint64_t)page, i - zero_start);
				if (e < 0)
					return e;
			}
			zero_start = i + 1;
			continue;
		}
		if (i > start) {
			int e = emit(w, r->addr + (uint64_t)start * (uint64_t)page, w->buf + (size_t)start * (size_t)page,
				     i - start);
			if (e < 0)
				return e;
		}
		if (zero)
			w->st.pages_zero++;
		start = i + 1;
	}
	if (r->discard_zero && r->npages > zero_start)
		return emit_discard(w, r->addr + (uint64_t)zero_start * (uint64_t)page, r->npages - zero_start);
	return 0;
}

static int read_run(struct worker *w, const struct run *r)
{
	struct dump_ctx *c = w->c;
	size_t len = (size_t)r->npages * (size_t)c->page;
	ssize_t got = -1;
	if (r->source == SRC_SHMEM) {
		got = pread(r->shmem_fd, w->buf, len, (off_t)r->shmem_off);
		if (got >= 0 && (size_t)got < len) { /* the end of an object that is not whole pages: zeros */
			memset(w->buf + got, 0, len - (size_t)got);
			got = (ssize_t)len;
		}
	} else {
		if (r->readable) {
			struct iovec l = {.iov_base = w->buf, .iov_len = len};
			struct iovec rm = {.iov_base = (void *)r->addr, .iov_len = len};
			got = process_vm_readv(c->pid, &l, 1, &rm, 1, 0);
		}
		if (got != (ssize_t)len) /* unreadable mapping: /proc/PID/mem reads with FOLL_FORCE */
			got = pread(c->mem_fd, w->buf, len, (off_t)r->addr);
	}
	if (got != (ssize_t)len)
		return got < 0 ? neg_errno() : -EIO;
	return 0;
}

static void *dump_worker(void *arg)
{
	struct worker *w = arg;
	struct dump_ctx *c = w->c;
	for (;;) {
		if (__atomic_load_n(&c->error, __ATOMIC_RELAXED))
			break;
		if (interrupted()) {
			int expected = 0;
			if (__atomic_compare_exchange_n(&c->error, &expected, -EINTR, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				snprintf(c->err, c->errlen, "interrupted by a signal");
			break;
		}
		size_t i = __atomic_fetch_add(&c->next_run, 1, __ATOMIC_RELAXED);
		if (i >= c->plan->nruns)
			break;
		const struct run *r = &c->plan->runs[i];
		int e;
		if (r->source == SRC_DISCARD) {
			e = emit_discard(w, r->addr, r->npages);
		} else if ((e = read_run(w, r)) == 0) {
			e = emit_runs(w, r);
		} else if (c->live) {
			/* unmapped since the round began: the next round's layout says what became of it */
			pthread_mutex_lock(&c->unread_lock);
			e = range_list_add(c->unread, r->addr, r->addr + (uint64_t)r->npages * (uint64_t)c->page);
			pthread_mutex_unlock(&c->unread_lock);
		}
		if (e < 0) {
			int expected = 0;
			if (__atomic_compare_exchange_n(&c->error, &expected, e, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				snprintf(c->err, c->errlen, "cannot dump %u pages at %#llx: %s", r->npages,
					 (unsigned long long)r->addr, strerror(-e));
			break;
		}
		uint64_t done = __atomic_add_fetch(&c->done_bytes, (uint64_t)r->npages * (uint64_t)c->page,
						   __ATOMIC_RELAXED);
		if (w->reports_progress && c->progress)
			c->progress(done, c->plan->total_bytes, c->progress_arg);
		if (w->reports_progress && done * 2 >= c->plan->total_bytes && !c->stalled) {
			c->stalled = true; /* once, half-way through the pages */
			stall_point("pages");
		}
	}
	return NULL;
}

static int dump_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (int)MAX(1, MIN(n, DUMP_WORKERS_MAX));
}

/* Plans [lo, hi) of VMA vi (sent before if `again`). */
static int plan_range(struct plan *pl, pid_t pid, int pagemap_fd, const struct fr_vma *vmas, uint32_t vi, uint64_t lo,
		      uint64_t hi, bool again, uint64_t *pm)
{
	const struct fr_vma *v = &vmas[vi];
	lo = MAX(lo, v->start), hi = MIN(hi, v->end);
	if (lo >= hi)
		return 0;
	return fr_vma_is_shmem(v) ? plan_shmem_vma(pl, pid, pl->page, v, vi, lo, hi, again)
					  : plan_private_vma(pl, pagemap_fd, pl->page, v, vi, lo, hi, again, pm);
}

/* Plans the parts of VMA vi that the ranges of l (sorted) cover; *k is
 * where to start looking in l, moved on as the VMAs go up. */
static int plan_list(struct plan *pl, pid_t pid, int pagemap_fd, const struct fr_vma *vmas, uint32_t vi,
		     const struct range_list *l, size_t *k, bool again, uint64_t *pm)
{
	const struct fr_vma *v = &vmas[vi];
	while (*k < l->n && l->v[*k].end <= v->start)
		(*k)++;
	int r = 0;
	for (size_t i = *k; r == 0 && i < l->n && l->v[i].start < v->end; i++)
		r = plan_range(pl, pid, pagemap_fd, vmas, vi, l->v[i].start, l->v[i].end, again, pm);
	return r;
}

static int plan_pages(struct plan *pl, pid_t pid, int pagemap_fd, const struct fr_vma *vmas, uint32_t nvmas,
		      const struct page_select *sel, uint64_t *pm, char *err, size_t errlen)
{
	size_t kw = 0, kd = 0;
	for (uint32_t i = 0; i < nvmas; i++) {
		const struct fr_vma *v = &vmas[i];
		if (!fr_vma_has_pages(v))
			continue;
		int r = 0;
		if (!sel)
			r = plan_range(pl, pid, pagemap_fd, vmas, i, v->start, v->end, false, pm);
		if (r == 0 && sel && sel->whole)
			r = plan_list(pl, pid, pagemap_fd, vmas, i, sel->whole, &kw, false, pm);
		if (r == 0 && sel && sel->dirty)
			r = plan_list(pl, pid, pagemap_fd, vmas, i, sel->dirty, &kd, true, pm);
		if (r < 0 && r != -ENOMEM && sel && sel->unread) /* live: it vanished while planned */
			r = range_list_add(sel->unread, v->start, v->end);
		if (r < 0) {
			snprintf(err, errlen, "cannot scan the pages of %llx-%llx (%s): %s", (unsigned long long)v->start,
				 (unsigned long long)v->end, fr_vma_kind_name(v->kind), strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Sorts the pages of l (lazy memory): those with data of their own go to
 * lazy; the others, if `again` (the destination holds an older copy), to
 * drop. */
static int lazy_pages(int pagemap_fd, long page, const struct range_list *l, bool again, struct range_list *lazy,
		      struct range_list *drop)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		struct range_list mine = {0}, rest = {0};
		r = pagemap_data_ranges(pagemap_fd, page, l->v[i].start, l->v[i].end, &mine);
		if (r == 0)
			r = range_list_union(lazy, &mine);
		if (r == 0 && again && (r = range_list_add(&rest, l->v[i].start, l->v[i].end)) == 0 &&
		    (r = range_list_subtract(&rest, &mine)) == 0)
			r = range_list_union(drop, &rest);
		range_list_free(&mine);
		range_list_free(&rest);
	}
	return r;
}

/* One record per stretch of l within one mapping of img (a reader checks
 * that), split to keep npages in 32 bits. */
static int write_ranges(struct fr_stream *s, uint16_t type, const struct fr_image *img, const struct range_list *l,
			long page, uint64_t *pages)
{
	struct buf b = {0};
	int r = 0;
	for (size_t i = 0; r == 0 && i < l->n; i++)
		for (uint64_t at = l->v[i].start; r == 0 && at < l->v[i].end;) {
			const struct fr_vma *v = layout_find(img->vmas, img->nvmas, at);
			uint64_t end = v ? MIN(l->v[i].end, v->end) : l->v[i].end;
			uint64_t n = MIN((end - at) / (uint64_t)page, (uint64_t)UINT32_MAX);
			encode_discard(&b, &(struct fr_discard){.addr = at, .npages = (uint32_t)n});
			r = b.oom ? -ENOMEM : stream_write_record(s, type, b.data, (uint32_t)b.len);
			b.len = 0;
			*pages += n;
			at += n * (uint64_t)page;
		}
	buf_free(&b);
	return r;
}

/* The page holding each thread's rseq area: the kernel writes it while the
 * restore's remote syscalls return, before a fault could be served. */
static int rseq_pages(const struct fr_image *img, long page, struct range_list *out)
{
	for (uint32_t i = 0; i < img->nthreads; i++)
		if (img->threads[i].rseq_addr && img->threads[i].rseq_len &&
		    range_list_push(out, img->threads[i].rseq_addr & ~(uint64_t)(page - 1),
				    (img->threads[i].rseq_addr + img->threads[i].rseq_len + (uint64_t)page - 1) &
					    ~(uint64_t)(page - 1)) < 0)
			return -ENOMEM;
	range_list_normalize(out);
	return 0;
}

int dump_pages_lazy(pid_t pid, const struct fr_image *img, const struct range_list *whole,
		    const struct range_list *again, struct fr_stream *s, struct page_stats *st, struct range_list *lazy,
		    page_progress_fn progress, void *progress_arg, char *err, size_t errlen)
{
	long page = sysconf(_SC_PAGESIZE);
	struct range_list all = {0}, eager = {0}, pinned = {0}, drop = {0}, ew = {0}, ed = {0};
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	_cleanup_close_ int pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = pagemap_fd < 0 ? neg_errno() : 0;
	for (uint32_t i = 0; r == 0 && i < img->nvmas; i++)
		if (fr_vma_has_pages(&img->vmas[i]))
			r = range_list_add(fr_vma_lazy_at(img->vmas, img->nvmas, i) ? &all : &eager, img->vmas[i].start,
					   img->vmas[i].end);
	if (r == 0 && (r = rseq_pages(img, page, &pinned)) == 0 && (r = range_list_union(&eager, &pinned)) == 0)
		r = range_list_subtract(&all, &pinned); /* all: the lazy memory now */
	if (!whole)
		whole = &all; /* a plain post-copy: everything */
	struct range_list w = {0}, a = {0}; /* what is sent, in lazy memory */
	if (r == 0 && (r = range_list_intersect(whole, &all, &w)) == 0 && again)
		r = range_list_intersect(again, &all, &a);
	/* w and a are within lazy memory already: one PAGEMAP_SCAN per range */
	if (r == 0 && (r = lazy_pages(pagemap_fd, page, &w, false, lazy, &drop)) == 0)
		r = lazy_pages(pagemap_fd, page, &a, true, lazy, &drop);
	range_list_free(&w);
	range_list_free(&a);
	/* LAZY first: the destination drops its older copies of these pages
	 * before it registers the memory with userfaultfd */
	if (r == 0 && (r = write_ranges(s, REC_LAZY, img, lazy, page, &st->pages_lazy)) == 0 &&
	    (r = write_ranges(s, REC_DISCARD, img, &drop, page, &st->pages_discarded)) == 0 &&
	    (r = range_list_intersect(whole == &all ? &eager : whole, &eager, &ew)) == 0 &&
	    (!again || (r = range_list_intersect(again, &eager, &ed)) == 0)) {
		struct page_select sel = {.whole = &ew, .dirty = again ? &ed : NULL};
		r = dump_pages_select(pid, img->vmas, img->nvmas, &sel, s, st, progress, progress_arg, err, errlen);
	} else if (r < 0) {
		snprintf(err, errlen, "cannot list the pages left for post-copy: %s", strerror(-r));
	}
	range_list_free(&all), range_list_free(&eager), range_list_free(&pinned), range_list_free(&drop);
	range_list_free(&ew), range_list_free(&ed);
	return r;
}

int dump_pages(pid_t pid, const struct fr_image *img, struct fr_stream *s, struct page_stats *st,
	       page_progress_fn progress_fn, void *progress_arg, char *err, size_t errlen)
{
	return dump_pages_select(pid, img->vmas, img->nvmas, NULL, s, st, progress_fn, progress_arg, err, errlen);
}

int dump_pages_select(pid_t pid, const struct fr_vma *vmas, uint32_t nvmas, const struct page_select *sel,
		      struct fr_stream *s, struct page_stats *st, page_progress_fn progress_fn, void *progress_arg,
		      char *err, size_t errlen)
{
	long page = sysconf(_SC_PAGESIZE);
	struct plan pl = {.page = page};
	char path[64];
	int r = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	_cleanup_close_ int pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	_cleanup_close_ int mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint64_t *pm = malloc(PAGEMAP_CHUNK * sizeof(uint64_t));
	if (pagemap_fd < 0 || mem_fd < 0) {
		r = neg_errno();
		snprintf(err, errlen, "cannot open /proc/%d/pagemap or mem: %s", pid, strerror(-r));
		return r;
	}
	if (!pm)
		return -ENOMEM;
	r = plan_pages(&pl, pid, pagemap_fd, vmas, nvmas, sel, pm, err, errlen);
	for (size_t i = 0; r == 0 && sel && sel->data && i < pl.nruns; i++)
		if (pl.runs[i].source == SRC_PRIVATE)
			r = range_list_add(sel->data, pl.runs[i].addr,
					   pl.runs[i].addr + (uint64_t)pl.runs[i].npages * (uint64_t)page);
	for (size_t i = 0; i < pl.nruns; i++)
		pl.total_bytes += (uint64_t)pl.runs[i].npages * (uint64_t)page;

	struct dump_ctx c = {.pid = pid, .mem_fd = mem_fd, .page = page, .s = s, .plan = &pl, .progress = progress_fn,
			     .progress_arg = progress_arg, .err = err, .errlen = errlen,
			     .live = sel && sel->unread, .unread = sel ? sel->unread : NULL,
			     .unread_lock = PTHREAD_MUTEX_INITIALIZER};
	int nw = s->seekable ? dump_workers() : 1; /* a pipe or socket keeps one writer */
	struct worker w[DUMP_WORKERS_MAX] = {0};
	pthread_t tid[DUMP_WORKERS_MAX];
	int started = 0;
	for (int i = 0; r == 0 && i < nw; i++) {
		w[i] = (struct worker){.c = &c, .reports_progress = i == 0};
		w[i].buf = aligned_alloc((size_t)page, (size_t)RUN_PAGES_MAX * (size_t)page);
		if (!w[i].buf) {
			r = -ENOMEM;
			break;
		}
		if (i > 0 && pthread_create(&tid[i], NULL, dump_worker, &w[i]) != 0) {
			free(w[i].buf);
			w[i].buf = NULL;
			break; /* fewer workers is fine */
		}
		started = i + 1;
	}
	if (r == 0 && started > 0)
		dump_worker(&w[0]);
	for (int i = 1; i < started; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < started; i++) {
		st->pages_present += w[i].st.pages_present;
		st->pages_sent += w[i].st.pages_sent;
		st->pages_zero += w[i].st.pages_zero;
		st->records += w[i].st.records;
		st->pages_discarded += w[i].st.pages_discarded;
		st->bytes += w[i].st.bytes;
	}
	for (int i = 0; i < nw; i++)
		free(w[i].buf);
	if (r == 0 && c.error)
		r = c.error;
	plan_free(&pl);
	return r;
}

int page_writer_open(struct page_writer *pw, pid_t pid, const struct fr_vma *vmas, uint32_t nvmas)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	*pw = (struct page_writer){.pid = pid, .vmas = vmas, .nvmas = nvmas, .uffd = -1,
				   .page_size = (uint32_t)sysconf(_SC_PAGESIZE)};
	pw->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	return pw->mem_fd < 0 ? neg_errno() : 0;
}

static const struct fr_vma *find_vma(const struct page_writer *pw, uint64_t addr)
{
	uint32_t lo = 0, hi = pw->nvmas;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (pw->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pw->nvmas && pw->vmas[lo].start <= addr ? &pw->vmas[lo] : NULL;
}

static bool uffd_target(const struct page_writer *pw, const struct fr_vma *v)
{
	return pw->uffd >= 0 && fr_vma_lazy_at(pw->vmas, pw->nvmas, (uint32_t)(v - pw->vmas));
}

int page_writer_use_uffd(struct page_writer *pw, int uffd)
{
	for (uint32_t i = 0; i < pw->nvmas; i++) {
		const struct fr_vma *v = &pw->vmas[i];
		if (!fr_vma_lazy_at(pw->vmas, pw->nvmas, i))
			continue;
		struct uffdio_register reg = {.range = {.start = v->start, .len = v->end - v->start},
					      .mode = UFFDIO_REGISTER_MODE_MISSING};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			int e = neg_errno();
			for (uint32_t k = 0; k < i; k++) {
				struct uffdio_range rg = {.start = pw->vmas[k].start,
							  .len = pw->vmas[k].end - pw->vmas[k].start};
				if (fr_vma_lazy_at(pw->vmas, pw->nvmas, k))
					ioctl(uffd, UFFDIO_UNREGISTER, &rg);
			}
			return e;
		}
	}
	pw->uffd = uffd;
	return 0;
}

/* Writes [addr, addr + len) with process_vm_writev: a writable mapping, or a
 * page already present in a uffd-registered one (so no fault waits). */
static int write_vm(struct page_writer *pw, uint64_t addr, const uint8_t *data, size_t len)
{
	struct iovec l = {.iov_base = (void *)data, .iov_len = len};
	struct iovec rm = {.iov_base = (void *)addr, .iov_len = len};
	return process_vm_writev(pw->pid, &l, 1, &rm, 1, 0) == (ssize_t)len ? 0 : (errno ? neg_errno() : -EIO);
}

/* UFFDIO_COPY fills missing pages; one already present (the same page sent
 * twice) stops a batch with EEXIST/EAGAIN and `copy` = bytes done: that
 * page is overwritten in place (no fault, so nothing waits on the uffd)
 * and the batch goes on after it. */
static int apply_uffd(struct page_writer *pw, uint64_t addr, const uint8_t *data, size_t len)
{
	enum { RETRIES_MAX = 16 };
	size_t done = 0, rewritten = 0;
	int retries = 0, r = 0;
	while (done < len) {
		struct uffdio_copy c = {.dst = addr + done, .src = (uint64_t)(uintptr_t)(data + done), .len = len - done};
		if (ioctl(pw->uffd, UFFDIO_COPY, &c) == 0) {
			done = len;
			break;
		}
		int e = errno;
		if (c.copy > 0) { /* partial: the page after them is present */
			done += (size_t)c.copy;
			continue;
		}
		if (e == EEXIST) {
			if ((r = write_vm(pw, addr + done, data + done, pw->page_size)) < 0)
				break;
			done += pw->page_size;
			rewritten += pw->page_size;
		} else if (e != EAGAIN || ++retries > RETRIES_MAX) {
			r = -e;
			break;
		}
	}
	if (r == 0) {
		__atomic_fetch_add(&pw->pages_uffdio_copy, (len - rewritten) / pw->page_size, __ATOMIC_RELAXED);
		__atomic_fetch_add(&pw->pages_process_vm_writev, rewritten / pw->page_size, __ATOMIC_RELAXED);
	}
	return r;
}

int page_writer_apply(struct page_writer *pw, const struct fr_pages_hdr *h, const uint8_t *data)
{
	size_t len;
	uint64_t end;
	if (__builtin_mul_overflow((size_t)h->npages, (size_t)pw->page_size, &len) ||
	    __builtin_add_overflow(h->addr, (uint64_t)len, &end))
		return -EBADMSG;
	const struct fr_vma *v = find_vma(pw, h->addr);
	if (!v || !fr_vma_has_pages(v) || end > v->end)
		return -EBADMSG;
	if (uffd_target(pw, v)) {
		int r = apply_uffd(pw, h->addr, data, len);
		if (r < 0)
			return r;
		__atomic_fetch_add(&pw->pages, h->npages, __ATOMIC_RELAXED);
		return 0;
	}
	bool direct = (v->prot & PROT_WRITE) && !fr_vma_is_shmem(v);
	if (direct && write_vm(pw, h->addr, data, len) == 0) {
		__atomic_fetch_add(&pw->pages_process_vm_writev, h->npages, __ATOMIC_RELAXED);
	} else { /* /proc/PID/mem writes with FOLL_FORCE */
		ssize_t w = pwrite(pw->mem_fd, data, len, (off_t)h->addr);
		if (w != (ssize_t)len)
			return w < 0 ? neg_errno() : -EIO;
		__atomic_fetch_add(&pw->pages_proc_mem, h->npages, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&pw->pages, h->npages, __ATOMIC_RELAXED);
	return 0;
}

int page_writer_keep_uffd(struct page_writer *pw)
{
	int fd = pw->uffd;
	pw->uffd = -1;
	return fd;
}

void page_writer_close(struct page_writer *pw)
{
	if (pw->uffd >= 0) {
		for (uint32_t i = 0; i < pw->nvmas; i++) {
			const struct fr_vma *v = &pw->vmas[i];
			struct uffdio_range rg = {.start = v->start, .len = v->end - v->start};
			if (uffd_target(pw, v))
				ioctl(pw->uffd, UFFDIO_UNREGISTER, &rg);
		}
		close(pw->uffd);
		pw->uffd = -1;
	}
	if (pw->mem_fd >= 0)
		close(pw->mem_fd);
	pw->mem_fd = -1;
}
