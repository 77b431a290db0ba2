/* mm_join.c — one mapping in the stub for each private anonymous mapping
 * the source has as one.
 *
 * Pre-copy builds the stub's address space piece by piece as the layout
 * changes (mm_update): a mapping the source made, mprotect'ed in part and
 * back, or grew, can arrive as pieces mapped and filled at different times.
 * Filled pieces have anonymous-memory roots (anon_vma) of their own, and the
 * kernel never merges those: the stub would keep two mappings where the
 * source had one, and the restored program's mremap of its whole mapping
 * would fail with EFAULT (mremap wants one mapping). So each such mapping is
 * rebuilt whole: a new anonymous mapping elsewhere, the pieces' pages copied
 * into it, then moved over the pieces with one mremap. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/proc.h"
#include "../inspect/rsys.h"
#include "../mem/pagemap.h"
#include "internal.h"

#define COPY_PAGES 256 /* pages copied per pread/pwrite */

struct join_io {
	int pagemap_fd, mem_fd;
	uint8_t *buf;
	long page;
	int uffd;                  /* post-copy's, or -1 */
	const struct fr_image *now; /* which mappings are lazy (registered) */
};

/* Post-copy: unregisters (register = false) or registers again the lazy
 * mappings among v[0..n). */
static int lazy_register(struct join_io *io, const struct fr_vma *v, uint32_t n, bool reg)
{
	if (io->uffd < 0)
		return 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (uint32_t)(&v[k] - io->now->vmas);
		if (!fr_vma_lazy_at(io->now->vmas, io->now->nvmas, i))
			continue;
		struct uffdio_register rg = {.range = {.start = v[k].start, .len = v[k].end - v[k].start},
					     .mode = UFFDIO_REGISTER_MODE_MISSING};
		if (ioctl(io->uffd, reg ? UFFDIO_REGISTER : UFFDIO_UNREGISTER, reg ? (void *)&rg : (void *)&rg.range) < 0)
			return neg_errno();
	}
	return 0;
}

/* Copies the pages with data of [from, from + len) to the same offsets at to. */
static int copy_pages(struct join_io *io, uint64_t from, uint64_t to, uint64_t len)
{
	struct range_list data = {0};
	int r = pagemap_data_ranges(io->pagemap_fd, io->page, from, from + len, &data);
	uint64_t chunk = (uint64_t)COPY_PAGES * (uint64_t)io->page;
	for (size_t i = 0; r == 0 && i < data.n; i++)
		for (uint64_t at = data.v[i].start; r == 0 && at < data.v[i].end; at += chunk) {
			size_t bytes = (size_t)MIN(chunk, data.v[i].end - at);
			/* /proc/PID/mem reads and writes whatever the protection */
			if (pread(io->mem_fd, io->buf, bytes, (off_t)at) != (ssize_t)bytes ||
			    pwrite(io->mem_fd, io->buf, bytes, (off_t)(at - from + to)) != (ssize_t)bytes)
				r = errno ? neg_errno() : -EIO;
		}
	range_list_free(&data);
	return r;
}

/* Rebuilds saved mappings v[0..n) (adjacent) as one mapping, mprotect'ed
 * in place to each one's protection: pieces split off one mapping share its
 * anon_vma, and merge again when their protections do. */
static int join_run(struct rsys *r, struct join_io *io, const struct fr_vma *v, uint32_t n, char *err,
		    size_t errlen)
{
	uint64_t start = v[0].start, len = v[n - 1].end - start;
	int e = lazy_register(io, v, n, false);
	if (e < 0) {
		snprintf(err, errlen, "cannot unregister %llx-%llx to rebuild it: %s", (unsigned long long)start,
			 (unsigned long long)(start + len), strerror(-e));
		return e;
	}
	long tmp = rsys(r, SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
	if (tmp < 0) {
		snprintf(err, errlen, "cannot map %llu bytes to join the pieces of %llx-%llx: %s",
			 (unsigned long long)len, (unsigned long long)start, (unsigned long long)(start + len),
			 strerror((int)-tmp));
		return (int)tmp;
	}
	e = copy_pages(io, start, (uint64_t)tmp, len);
	long rc = 0;
	if (e == 0 && (rc = rsys(r, SYS_mremap, (uint64_t)tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, start, 0)) !=
			      (long)start)
		e = rc < 0 ? (int)rc : -EFAULT;
	if (e < 0)
		rsys(r, SYS_munmap, (uint64_t)tmp, len, 0, 0, 0, 0);
	for (uint32_t k = 0; e == 0 && k < n; k++)
		if (v[k].prot != (PROT_READ | PROT_WRITE) &&
		    (rc = rsys(r, SYS_mprotect, v[k].start, v[k].end - v[k].start, v[k].prot, 0, 0, 0)) < 0)
			e = (int)rc;
	if (e == 0)
		e = lazy_register(io, v, n, true);
	if (e < 0) {
		snprintf(err, errlen, "cannot join the pieces of %llx-%llx into one mapping: %s",
			 (unsigned long long)start, (unsigned long long)(start + len), strerror(-e));
		return e;
	}
	pr_debug("restore: %llx-%llx (%u mappings) rebuilt as one", (unsigned long long)start,
		 (unsigned long long)(start + len), n);
	return 0;
}

/* Is saved mapping v more than one mapping in the stub (maps sorted)? *k
 * moves on along maps as the saved mappings go up. */
static bool split_here(const struct fr_vma *v, const struct proc_map *maps, size_t n, size_t *k)
{
	while (*k < n && maps[*k].end <= v->start)
		(*k)++;
	return *k < n && (maps[*k].start > v->start || maps[*k].end < v->end);
}

/* Has the stub data (present or swapped pages) in [lo, hi)? */
static bool has_data(struct join_io *io, uint64_t lo, uint64_t hi)
{
	struct range_list data = {0};
	/* cannot tell: rebuilding is safe */
	bool any = pagemap_data_ranges(io->pagemap_fd, io->page, lo, hi, &data) < 0 || data.n > 0;
	range_list_free(&data);
	return any;
}

static bool joinable(const struct fr_vma *v) { return v->kind == VMA_ANON && !(v->flags & MAP_GROWSDOWN); }

/* Which mappings of the run v[0..n) (adjacent, joinable) to rebuild:
 * with `runs`, all of them if one is in pieces, or is a read-only one with
 * data next to the others, or a read-only one (with data or not) between
 * pieces with data (the source's pieces of one mapping mprotect'ed in part
 * share its anon_vma: the stub's, filled one by one, do not, and would
 * never merge when the program mprotects them back); without, each one in
 * pieces on its own. PROT_NONE pieces do not count: thread stacks' guards
 * lie between stacks that are separate mappings at the source too. */
static int join_what(struct stub *s, struct join_io *io, struct rsys *rs, bool *begun, const struct fr_vma *v,
		     uint32_t n, bool runs, const struct proc_map *maps, size_t nmaps, size_t *k, uint32_t *joined,
		     char *err, size_t errlen)
{
	bool any = false, whole = false, fixed = false;
	for (uint32_t i = 0; i < n; i++) {
		bool split = split_here(&v[i], maps, nmaps, k);
		any |= split;
		fixed |= (v[i].prot & PROT_READ) && !(v[i].prot & PROT_WRITE);
		whole |= runs && n > 1 && (split || (!(v[i].prot & PROT_WRITE) && has_data(io, v[i].start, v[i].end)));
	}
	uint32_t with_data = 0;
	for (uint32_t i = 0; runs && n > 2 && fixed && !whole && i < n; i++)
		with_data += has_data(io, v[i].start, v[i].end);
	whole |= with_data > 1;
	if (!any && !whole)
		return 0;
	if (!*begun) {
		int r = rsys_begin(rs, s->pid, s->sys_ip);
		if (r < 0) {
			snprintf(err, errlen, "cannot run remote syscalls in the new process: %s", strerror(-r));
			return r;
		}
		*begun = true;
	}
	if (whole) {
		(*joined)++;
		return join_run(rs, io, v, n, err, errlen);
	}
	size_t kk = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!split_here(&v[i], maps, nmaps, &kk))
			continue;
		int r = join_run(rs, io, &v[i], 1, err, errlen);
		if (r < 0)
			return r;
		(*joined)++;
	}
	return 0;
}

int mm_join(struct stub *s, const struct fr_image *now, bool runs, int uffd, uint32_t *joined, char *err,
	    size_t errlen)
{
	*joined = 0;
	struct proc_map *maps;
	size_t nmaps, k = 0;
	int r = proc_read_maps(s->pid, &maps, &nmaps);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the layout of the new process: %s", strerror(-r));
		return r;
	}
	char path[64];
	struct join_io io = {.page = sysconf(_SC_PAGESIZE), .uffd = uffd, .now = now};
	snprintf(path, sizeof(path), "/proc/%d/pagemap", s->pid);
	io.pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	io.mem_fd = open(path, O_RDWR | O_CLOEXEC);
	io.buf = malloc((size_t)COPY_PAGES * (size_t)io.page);
	if (io.pagemap_fd < 0 || io.mem_fd < 0 || !io.buf) {
		r = io.buf ? neg_errno() : -ENOMEM;
		snprintf(err, errlen, "cannot open the new process's memory: %s", strerror(-r));
	}
	struct rsys rs;
	bool begun = false;
	for (uint32_t i = 0; r == 0 && i < now->nvmas;) {
		uint32_t j = i + 1;
		if (joinable(&now->vmas[i])) {
			while (j < now->nvmas && joinable(&now->vmas[j]) && now->vmas[j].start == now->vmas[j - 1].end)
				j++;
			r = join_what(s, &io, &rs, &begun, &now->vmas[i], j - i, runs, maps, nmaps, &k, joined, err,
				      errlen);
		}
		i = j;
	}
	free(maps);
	free(io.buf);
	if (io.pagemap_fd >= 0)
		close(io.pagemap_fd);
	if (io.mem_fd >= 0)
		close(io.mem_fd);
	return r;
}
