/* pages.c — see pages.h. */
#include "pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "../common/util.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61) /* file page or shared anonymous: not COW'd */
#define RUN_PAGES_MAX 512    /* pages per read and per record: 2 MiB */

struct dump_ctx {
	pid_t pid;
	int pagemap_fd, mem_fd;
	struct fr_stream *s;
	struct page_stats *st;
	uint8_t *buf;
	uint64_t *pm;
	long page;
	uint64_t total_bytes, done_bytes;
	page_progress_fn progress;
	void *progress_arg;
};

static bool page_is_zero(const uint8_t *p, long len)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;
	for (long i = 0; i < len / 8; i += 8)
		acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
	return acc == 0;
}

static int emit(struct dump_ctx *c, uint64_t addr, const uint8_t *data, uint32_t npages)
{
	struct fr_pages_hdr h = {.addr = addr, .npages = npages};
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
			       {.iov_base = (void *)data, .iov_len = (size_t)npages * (size_t)c->page}};
	int r = stream_write_recordv(c->s, REC_PAGES, iov, 2);
	if (r == 0) {
		c->st->pages_sent += npages;
		c->st->records++;
		c->st->bytes += iov[1].iov_len;
	}
	return r;
}

/* Emits the npages just read into c->buf, skipping zero pages when
 * elide_zero is set (anonymous memory starts out zero on restore). */
static int emit_runs(struct dump_ctx *c, uint64_t addr, uint32_t npages, bool elide_zero)
{
	c->st->pages_present += npages;
	uint32_t run_start = 0;
	for (uint32_t i = 0; i <= npages; i++) {
		bool zero = i < npages && elide_zero && page_is_zero(c->buf + (size_t)i * (size_t)c->page, c->page);
		if (i < npages && !zero)
			continue;
		if (i > run_start) {
			int r = emit(c, addr + (uint64_t)run_start * (uint64_t)c->page,
				     c->buf + (size_t)run_start * (size_t)c->page, i - run_start);
			if (r < 0)
				return r;
		}
		if (zero)
			c->st->pages_zero++;
		run_start = i + 1;
	}
	return 0;
}

/* Reads [addr, addr + npages) of a private mapping into c->buf and emits it. */
static int read_and_emit(struct dump_ctx *c, const struct fr_vma *v, uint64_t addr, uint32_t npages, bool elide_zero)
{
	size_t len = (size_t)npages * (size_t)c->page;
	ssize_t got = -1;
	if (v->prot & PROT_READ) {
		struct iovec l = {.iov_base = c->buf, .iov_len = len};
		struct iovec rm = {.iov_base = (void *)addr, .iov_len = len};
		got = process_vm_readv(c->pid, &l, 1, &rm, 1, 0);
	}
	if (got != (ssize_t)len) /* unreadable mapping: /proc/PID/mem reads with FOLL_FORCE */
		got = pread(c->mem_fd, c->buf, len, (off_t)addr);
	if (got != (ssize_t)len)
		return got < 0 ? neg_errno() : -EIO;
	return emit_runs(c, addr, npages, elide_zero);
}

static void progress(struct dump_ctx *c, uint64_t bytes)
{
	c->done_bytes += bytes;
	if (c->progress)
		c->progress(c->done_bytes, c->total_bytes, c->progress_arg);
}

/* Private mappings: pagemap says which pages are the process's own. */
static int dump_private_vma(struct dump_ctx *c, const struct fr_vma *v)
{
	bool anon = v->kind == VMA_ANON;
	uint64_t npages_vma = (v->end - v->start) / (uint64_t)c->page;
	for (uint64_t base = 0; base < npages_vma; base += RUN_PAGES_MAX) {
		uint32_t chunk = (uint32_t)MIN((uint64_t)RUN_PAGES_MAX, npages_vma - base);
		uint64_t addr0 = v->start + base * (uint64_t)c->page;
		ssize_t want = (ssize_t)(chunk * sizeof(uint64_t));
		if (pread(c->pagemap_fd, c->pm, (size_t)want, (off_t)(addr0 / (uint64_t)c->page * 8)) != want)
			return errno ? neg_errno() : -EIO;
		uint32_t i = 0;
		while (i < chunk) {
			uint64_t e = c->pm[i];
			bool mine = (e & PM_SWAPPED) || ((e & PM_PRESENT) && (anon || !(e & PM_FILE)));
			if (!mine) {
				i++;
				continue;
			}
			uint32_t j = i + 1;
			while (j < chunk) {
				uint64_t f = c->pm[j];
				if (!((f & PM_SWAPPED) || ((f & PM_PRESENT) && (anon || !(f & PM_FILE)))))
					break;
				j++;
			}
			int r = read_and_emit(c, v, addr0 + (uint64_t)i * (uint64_t)c->page, j - i, anon);
			if (r < 0)
				return r;
			i = j;
		}
		progress(c, (uint64_t)chunk * (uint64_t)c->page);
	}
	return 0;
}

/* Shared anonymous memory: the shmem object itself says where data is. */
static int dump_shared_anon_vma(struct dump_ctx *c, const struct fr_vma *v)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", c->pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	off_t size = (off_t)(v->end - v->start);
	off_t off = 0;
	while (off < size) {
		off_t data = lseek(fd, off, SEEK_DATA);
		if (data < 0 || data >= size)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		for (off_t at = data; at < hole; at += RUN_PAGES_MAX * c->page) {
			uint32_t np = (uint32_t)(MIN((off_t)RUN_PAGES_MAX * c->page, hole - at) / c->page);
			if (pread(fd, c->buf, (size_t)np * (size_t)c->page, at) != (ssize_t)np * c->page)
				return errno ? neg_errno() : -EIO;
			int r = emit_runs(c, v->start + (uint64_t)at, np, true);
			if (r < 0)
				return r;
		}
		off = hole;
	}
	progress(c, (uint64_t)size);
	return 0;
}

static bool vma_has_pages(const struct fr_vma *v)
{
	return v->kind == VMA_ANON || v->kind == VMA_FILE_PRIVATE || v->kind == VMA_SHARED_ANON;
}

int dump_pages(pid_t pid, const struct fr_image *img, struct fr_stream *s, struct page_stats *st,
	       page_progress_fn progress_fn, void *progress_arg, char *err, size_t errlen)
{
	struct dump_ctx c = {.pid = pid, .s = s, .st = st, .page = sysconf(_SC_PAGESIZE), .progress = progress_fn,
			     .progress_arg = progress_arg, .pagemap_fd = -1, .mem_fd = -1};
	char path[64];
	int r = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	c.pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	c.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	c.buf = aligned_alloc((size_t)c.page, (size_t)RUN_PAGES_MAX * (size_t)c.page);
	c.pm = malloc(RUN_PAGES_MAX * sizeof(uint64_t));
	if (c.pagemap_fd < 0 || c.mem_fd < 0) {
		r = neg_errno();
		snprintf(err, errlen, "cannot open /proc/%d/pagemap or mem: %s", pid, strerror(-r));
	} else if (!c.buf || !c.pm) {
		r = -ENOMEM;
	}
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (vma_has_pages(&img->vmas[i]))
			c.total_bytes += img->vmas[i].end - img->vmas[i].start;
	for (uint32_t i = 0; r == 0 && i < img->nvmas; i++) {
		const struct fr_vma *v = &img->vmas[i];
		if (!vma_has_pages(v))
			continue;
		r = v->kind == VMA_SHARED_ANON ? dump_shared_anon_vma(&c, v) : dump_private_vma(&c, v);
		if (r < 0)
			snprintf(err, errlen, "cannot dump pages of %llx-%llx (%s): %s", (unsigned long long)v->start,
				 (unsigned long long)v->end, fr_vma_kind_name(v->kind), strerror(-r));
	}
	if (c.pagemap_fd >= 0)
		close(c.pagemap_fd);
	if (c.mem_fd >= 0)
		close(c.mem_fd);
	free(c.buf);
	free(c.pm);
	return r;
}

int page_writer_open(struct page_writer *pw, pid_t pid, const struct fr_vma *vmas, uint32_t nvmas)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	*pw = (struct page_writer){.pid = pid, .vmas = vmas, .nvmas = nvmas,
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

int page_writer_apply(struct page_writer *pw, const struct fr_pages_hdr *h, const uint8_t *data)
{
	size_t len = (size_t)h->npages * pw->page_size;
	const struct fr_vma *v = find_vma(pw, h->addr);
	if (!v || !vma_has_pages(v) || h->addr + len > v->end)
		return -EBADMSG;
	ssize_t w = -1;
	if ((v->prot & PROT_WRITE) && v->kind != VMA_SHARED_ANON) {
		struct iovec l = {.iov_base = (void *)data, .iov_len = len};
		struct iovec rm = {.iov_base = (void *)h->addr, .iov_len = len};
		w = process_vm_writev(pw->pid, &l, 1, &rm, 1, 0);
	}
	if (w != (ssize_t)len)
		w = pwrite(pw->mem_fd, data, len, (off_t)h->addr);
	if (w != (ssize_t)len)
		return w < 0 ? neg_errno() : -EIO;
	pw->pages += h->npages;
	return 0;
}

void page_writer_close(struct page_writer *pw)
{
	if (pw->mem_fd >= 0)
		close(pw->mem_fd);
	pw->mem_fd = -1;
}
