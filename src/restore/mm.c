/* mm.c — replacing the stub's address space with the saved one, driven by
 * remote syscalls: move the stub's vDSO block ([vvar], [vvar_vclock],
 * [vdso]) to the old addresses with mremap (glibc caches vDSO pointers),
 * unmap everything else, map a scratch area in a hole of the saved layout,
 * then map every saved VMA at its address. mm_set_map() later sets brk,
 * arg/env, auxv and exe with PR_SET_MM_MAP once the pages are in. */
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#include "../common/compat.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/proc.h"
#include "../inspect/rsys.h"
#include "../state/layout.h"
#include "internal.h"

#define USER_TOP 0x7ffffffff000ull     /* TASK_SIZE with 4-level paging */
#define LOW_LIMIT 0x10000ull           /* vm.mmap_min_addr default */
#define SCRATCH_PAGES 4                /* paths, clone_args, prctl_mm_map + auxv */
#define PARK_BASE 0x100000000000ull    /* 16 TiB: where the vDSO block waits if it is in the way */

static bool is_special(uint32_t kind) { return kind == VMA_VDSO || kind == VMA_VVAR || kind == VMA_VVAR_VCLOCK; }

static uint32_t special_kind(const char *name)
{
	if (strcmp(name, "[vdso]") == 0)
		return VMA_VDSO;
	if (strcmp(name, "[vvar]") == 0)
		return VMA_VVAR;
	if (strcmp(name, "[vvar_vclock]") == 0)
		return VMA_VVAR_VCLOCK;
	return 0;
}

struct block {
	uint64_t start[VMA_VVAR_VCLOCK + 1], len[VMA_VVAR_VCLOCK + 1];
	uint64_t lo, hi;
};

static void block_add(struct block *b, uint32_t kind, uint64_t start, uint64_t end)
{
	b->start[kind] = start;
	b->len[kind] = end - start;
	if (!b->lo || start < b->lo)
		b->lo = start;
	if (end > b->hi)
		b->hi = end;
}

static bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

/* Moves the stub's special mappings so block `from` lands at `to` (same
 * relative layout per kind as `to` describes). The syscall runs from inside
 * [vdso], so that one moves last and r->syscall_ip follows it. */
static int move_block(struct rsys *r, struct block *from, const struct block *to, char *err, size_t errlen)
{
	static const uint32_t order[] = {VMA_VVAR, VMA_VVAR_VCLOCK, VMA_VDSO};
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		uint32_t k = order[i];
		if (!from->len[k] || from->start[k] == to->start[k])
			continue;
		long a = rsys(r, SYS_mremap, from->start[k], from->len[k], from->len[k],
			      MREMAP_MAYMOVE | MREMAP_FIXED, to->start[k], 0);
		if (a != (long)to->start[k]) {
			snprintf(err, errlen, "cannot move the %s to %#llx: %s", fr_vma_kind_name(k),
				 (unsigned long long)to->start[k], strerror(a < 0 ? (int)-a : EFAULT));
			return a < 0 ? (int)a : -EFAULT;
		}
		if (k == VMA_VDSO)
			r->syscall_ip = r->syscall_ip - from->start[k] + to->start[k];
	}
	*from = *to;
	return 0;
}

/* A hole of len bytes in the saved layout, as high as possible. */
static uint64_t find_hole(const struct fr_image *img, uint64_t len)
{
	uint64_t top = USER_TOP;
	for (uint32_t i = img->nvmas; i-- > 0;) {
		const struct fr_vma *v = &img->vmas[i];
		if (v->end > top)
			continue;
		if (top - v->end >= len + 2 * 4096)
			return top - len - 4096;
		top = v->start;
	}
	if (top < LOW_LIMIT) /* a saved mapping below mmap_min_addr: no room, and no wrap */
		return 0;
	return top - LOW_LIMIT >= len + 4096 ? top - len - 4096 : 0;
}

static int open_remote(struct stub *s, struct rsys *r, const char *path, int flags, long *fd)
{
	size_t n = strlen(path) + 1;
	if (n > s->scratch_len)
		return -ENAMETOOLONG;
	int e = remote_write(s->pid, s->scratch, path, n);
	if (e < 0)
		return e;
	*fd = rsys(r, SYS_openat, (uint64_t)AT_FDCWD, s->scratch, (uint64_t)(flags | O_CLOEXEC), 0, 0, 0);
	return *fd < 0 ? (int)*fd : 0;
}

/* The protection a mapping has while the restore builds it: shared
 * anonymous memory stays writable, since /proc/PID/mem cannot write a
 * read-only shared mapping (mm_protect sets the saved one at the end). */
static uint32_t build_prot(const struct fr_vma *v)
{
	return fr_vma_is_shmem(v) ? v->prot | PROT_WRITE : v->prot;
}

/* Attaches the System V segment of v at its address (shmflg: SHM_RDONLY,
 * SHM_REMAP); the segment was made before (sysv_shm.c). */
static int attach_sysv(struct rsys *r, const struct fr_vma *v, uint64_t shmflg, char *err, size_t errlen)
{
	if (v->prot & PROT_EXEC)
		shmflg |= SHM_EXEC;
	long a = rsys(r, SYS_shmat, (uint64_t)fr_vma_object(v), v->start, shmflg, 0, 0, 0);
	if (a == (long)v->start)
		return 0;
	int e = a < 0 ? (int)a : -EFAULT;
	snprintf(err, errlen, "cannot attach System V shared memory segment %d at %#llx: %s", fr_vma_object(v),
		 (unsigned long long)v->start, strerror(-e));
	return e;
}

/* The file a mapping needs, kept open while consecutive pieces map it. */
struct map_file {
	long fd;
	const char *path; /* the file opened by path, or */
	uint32_t object;  /* the memfd or deleted file lent by ferry (fr_vma.object) */
	int flags;
};

static void map_file_close(struct rsys *r, struct map_file *mf)
{
	if (mf->fd >= 0)
		rsys(r, SYS_close, (uint64_t)mf->fd, 0, 0, 0, 0, 0);
	*mf = (struct map_file){.fd = -1};
}

/* ferry's fd of the memfd or deleted file v maps, lent to the stub. */
static int lend_object(struct stub *s, struct rsys *r, const struct fr_vma *v, int flags, long *at)
{
	int fd = fr_vma_object(v);
	for (uint32_t i = 0; s->files && i < s->files_img->nfiles; i++)
		if (s->files_img->files[i].fd == fd)
			return identity_lend_file(s, r, s->files[i], flags, at);
	return -EBADF; /* image.c checked the record exists: not while the memory is built */
}

/* The stub's fd for the file of mapping v, opened with the access it needs. */
static int map_file_open(struct stub *s, struct rsys *r, struct map_file *mf, const struct fr_vma *v)
{
	bool writable = v->kind == VMA_FILE_SHARED && (v->prot & PROT_WRITE);
	/* a shared mapping of a memfd or deleted file keeps the right to become
	 * writable, as the process's had (its files are read-write) */
	int want = writable || (v->object && v->kind == VMA_FILE_SHARED) ? O_RDWR : O_RDONLY;
	if (v->object ? mf->object == v->object && mf->flags == want
		      : mf->path && strcmp(mf->path, v->path) == 0 && mf->flags == want)
		return 0;
	map_file_close(r, mf);
	int e = v->object ? lend_object(s, r, v, want, &mf->fd) : open_remote(s, r, v->path, want, &mf->fd);
	if (e < 0)
		return e;
	if (v->object)
		mf->object = v->object;
	else
		mf->path = v->path;
	mf->flags = want;
	return 0;
}

/* Maps [lo, hi) of the saved VMA v (all of it, or a piece a pre-copy round
 * found fresh) at its address, from its file at the matching offset. */
static int map_piece(struct stub *s, struct rsys *r, struct map_file *mf, const struct fr_vma *v, uint64_t lo,
		     uint64_t hi, char *err, size_t errlen)
{
	uint64_t flags = MAP_FIXED | (v->flags & (MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN));
	long mfd = -1;
	if (v->kind == VMA_SYSV_SHM) { /* attached whole: pre-copy rounds never map part of one */
		if (lo != v->start || hi != v->end) {
			snprintf(err, errlen, "cannot attach part %llx-%llx of System V shared memory at %llx-%llx",
				 (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)v->start,
				 (unsigned long long)v->end);
			return -EINVAL;
		}
		return attach_sysv(r, v, 0, err, errlen);
	}
	if (v->kind == VMA_ANON || v->kind == VMA_SHARED_ANON) {
		flags |= MAP_ANONYMOUS;
	} else {
		int e = map_file_open(s, r, mf, v);
		if (e < 0) {
			snprintf(err, errlen, "cannot open %s to map it at %#llx: %s", v->path, (unsigned long long)lo,
				 strerror(-e));
			return e;
		}
		mfd = mf->fd;
	}
	long a = rsys(r, SYS_mmap, lo, hi - lo, build_prot(v), flags, (uint64_t)mfd, v->pgoff + (lo - v->start));
	if (a != (long)lo) {
		int e = a < 0 ? (int)a : -EFAULT;
		snprintf(err, errlen, "cannot map %llx-%llx (%s%s%s): %s", (unsigned long long)lo, (unsigned long long)hi,
			 fr_vma_kind_name(v->kind), v->path ? " " : "", v->path ? v->path : "", strerror(-e));
		return e;
	}
	return 0;
}

/* The end of the run of mappings from v[k] on that are pieces of one shmem
 * object (shared anonymous, adjacent, at consecutive offsets: what an
 * mprotect of part of one mapping leaves): index one past it. They are
 * mapped as one object, as the process has them. */
static uint32_t object_end(const struct fr_vma *v, uint32_t n, uint32_t k)
{
	uint32_t j = k + 1;
	if (v[k].kind != VMA_SHARED_ANON)
		return j;
	while (j < n && v[j].kind == VMA_SHARED_ANON && v[j].start == v[j - 1].end && v[j].flags == v[j - 1].flags &&
	       v[j].pgoff == v[j - 1].pgoff + (v[j - 1].end - v[j - 1].start))
		j++;
	return j;
}

static int map_vmas(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	struct map_file mf = {.fd = -1};
	int ret = 0;
	for (uint32_t i = 0; i < img->nvmas && ret == 0;) {
		const struct fr_vma *v = &img->vmas[i];
		uint32_t j = object_end(img->vmas, img->nvmas, i);
		if (!is_special(v->kind))
			ret = map_piece(s, r, &mf, v, v->start, img->vmas[j - 1].end, err, errlen);
		i = j;
	}
	map_file_close(r, &mf);
	return ret;
}

/* Does [lo, hi) touch a vDSO-block mapping of l? */
static bool hits_special(const struct fr_vma *l, uint32_t n, uint64_t lo, uint64_t hi)
{
	for (uint32_t i = 0; i < n; i++)
		if (is_special(l[i].kind) && overlaps(lo, hi, l[i].start, l[i].end))
			return true;
	return false;
}

/* The scratch area must stay out of the process's mappings: if the new
 * layout wants its place, it moves to a hole of the new layout. */
static int move_scratch(struct stub *s, struct rsys *r, const struct fr_image *now, char *err, size_t errlen)
{
	bool in_way = false;
	for (uint32_t i = 0; i < now->nvmas && !in_way; i++)
		in_way = overlaps(s->scratch, s->scratch + s->scratch_len, now->vmas[i].start, now->vmas[i].end);
	if (!in_way)
		return 0;
	uint64_t hole = find_hole(now, s->scratch_len);
	long a = hole ? rsys(r, SYS_mremap, s->scratch, s->scratch_len, s->scratch_len, MREMAP_MAYMOVE | MREMAP_FIXED,
			     hole, 0)
		      : -ENOMEM;
	if (a != (long)hole) {
		snprintf(err, errlen, "no room for the scratch area in the new layout: %s", strerror(a < 0 ? (int)-a : EFAULT));
		return a < 0 ? (int)a : -EFAULT;
	}
	s->scratch = hole;
	return 0;
}

int mm_update(struct stub *s, const struct fr_image *was, const struct fr_image *now, char *err, size_t errlen)
{
	struct layout_diff d;
	if (layout_diff(was->vmas, was->nvmas, now->vmas, now->nvmas, &d) < 0)
		return -ENOMEM;
	struct rsys r;
	int ret = rsys_begin(&r, s->pid, s->sys_ip);
	for (size_t i = 0; ret == 0 && i < d.removed.n; i++) {
		const struct fr_range *g = &d.removed.v[i];
		if (hits_special(was->vmas, was->nvmas, g->start, g->end) || hits_special(now->vmas, now->nvmas, g->start, g->end)) {
			snprintf(err, errlen, "the process moved its vDSO at %#llx: ferry cannot follow that yet",
				 (unsigned long long)g->start);
			ret = -EOPNOTSUPP;
			break;
		}
		long e = rsys(&r, SYS_munmap, g->start, g->end - g->start, 0, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot unmap %llx-%llx: %s", (unsigned long long)g->start,
				 (unsigned long long)g->end, strerror((int)-e));
			ret = (int)e;
		}
	}
	if (ret == 0)
		ret = move_scratch(s, &r, now, err, errlen);
	struct map_file mf = {.fd = -1};
	for (size_t i = 0; ret == 0 && i < d.fresh.n; i++) {
		const struct fr_range *g = &d.fresh.v[i];
		for (uint32_t k = 0; ret == 0 && k < now->nvmas; k++) {
			const struct fr_vma *v = &now->vmas[k];
			uint32_t j = object_end(now->vmas, now->nvmas, k);
			uint64_t lo = MAX(v->start, g->start), hi = MIN(now->vmas[j - 1].end, g->end);
			k = j - 1;
			if (lo >= hi)
				continue;
			if (is_special(v->kind)) {
				snprintf(err, errlen, "the process moved its vDSO to %#llx: ferry cannot follow that yet",
					 (unsigned long long)lo);
				ret = -EOPNOTSUPP;
				break;
			}
			ret = map_piece(s, &r, &mf, v, lo, hi, err, errlen);
		}
	}
	/* mprotect'ed since: the same protection here (a shared file mapping
	 * made writable needs its file opened for writing: mapped again) */
	for (size_t i = 0; ret == 0 && i < d.reprot.n; i++) {
		const struct fr_range *g = &d.reprot.v[i];
		for (uint32_t k = 0; ret == 0 && k < now->nvmas; k++) {
			const struct fr_vma *v = &now->vmas[k];
			uint64_t lo = MAX(v->start, g->start), hi = MIN(v->end, g->end);
			if (lo >= hi)
				continue;
			if (v->kind == VMA_FILE_SHARED) {
				ret = map_piece(s, &r, &mf, v, lo, hi, err, errlen);
				continue;
			}
			long e = rsys(&r, SYS_mprotect, lo, hi - lo, build_prot(v), 0, 0, 0);
			if (e < 0) {
				snprintf(err, errlen, "cannot change the protection of %llx-%llx: %s",
					 (unsigned long long)lo, (unsigned long long)hi, strerror((int)-e));
				ret = (int)e;
			}
		}
	}
	map_file_close(&r, &mf);
	uint32_t joined = 0;
	if (ret == 0 && (d.fresh.n || d.removed.n || d.reprot.n))
		ret = mm_join(s, now, false, -1, &joined, err, errlen);
	layout_diff_free(&d);
	return ret;
}

int mm_protect(struct stub *s, const struct fr_image *img, char *err, size_t errlen)
{
	struct rsys r;
	int ret = 0;
	bool begun = false;
	for (uint32_t i = 0; ret == 0 && i < img->nvmas; i++) {
		const struct fr_vma *v = &img->vmas[i];
		if (build_prot(v) == v->prot)
			continue;
		if (!begun && (ret = rsys_begin(&r, s->pid, s->sys_ip)) < 0)
			break;
		begun = true;
		if (v->kind == VMA_SYSV_SHM) { /* read-only as shmat(SHM_RDONLY) makes it: attached again */
			ret = attach_sysv(&r, v, SHM_RDONLY | SHM_REMAP, err, errlen);
			continue;
		}
		long e = rsys(&r, SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot make %llx-%llx read-only: %s", (unsigned long long)v->start,
				 (unsigned long long)v->end, strerror((int)-e));
			ret = (int)e;
		}
	}
	return ret;
}

int mm_drop(struct stub *s, const struct range_list *l, char *err, size_t errlen)
{
	struct rsys r;
	int ret = rsys_begin(&r, s->pid, s->sys_ip);
	long pidfd = ret < 0 ? ret : rsys(&r, SYS_pidfd_open, (uint64_t)s->pid, 0, 0, 0, 0, 0);
	size_t per = s->scratch_len / sizeof(struct iovec);
	struct iovec *iov = malloc(per * sizeof(*iov));
	if (!iov)
		pidfd = -ENOMEM;
	for (size_t i = 0; pidfd >= 0 && i < l->n; i += per) {
		size_t n = MIN(per, l->n - i);
		uint64_t want = 0;
		for (size_t k = 0; k < n; k++) {
			iov[k] = (struct iovec){.iov_base = (void *)(uintptr_t)l->v[i + k].start,
						.iov_len = (size_t)(l->v[i + k].end - l->v[i + k].start)};
			want += iov[k].iov_len;
		}
		int e = remote_write(s->pid, s->scratch, iov, n * sizeof(*iov));
		long got = e < 0 ? e : rsys(&r, SYS_process_madvise, (uint64_t)pidfd, s->scratch, n, MADV_DONTNEED, 0, 0);
		if (got != (long)want) {
			ret = got < 0 ? (int)got : -EIO;
			break;
		}
	}
	if (pidfd >= 0)
		rsys(&r, SYS_close, (uint64_t)pidfd, 0, 0, 0, 0, 0);
	else if (ret == 0)
		ret = (int)pidfd;
	free(iov);
	if (ret < 0)
		snprintf(err, errlen, "cannot drop the older copies of the pages left for post-copy: %s", strerror(-ret));
	return ret;
}

int mm_prime_lazy(struct stub *s, const struct fr_image *img, const struct range_list *lazy,
		  struct range_list *primed, char *err, size_t errlen)
{
	long page = sysconf(_SC_PAGESIZE);
	static const uint8_t zero;
	uint32_t v = 0;
	const struct fr_vma *last = NULL; /* the mapping primed last */
	for (size_t i = 0; i < lazy->n; i++) {
		uint64_t a = lazy->v[i].start;
		while (v < img->nvmas && img->vmas[v].end <= a)
			v++;
		if (v == img->nvmas || img->vmas[v].start > a || &img->vmas[v] == last)
			continue;
		last = &img->vmas[v];
		int r = remote_write(s->pid, a, &zero, sizeof(zero));
		if (r == 0)
			r = range_list_add(primed, a, a + (uint64_t)page);
		if (r < 0) {
			snprintf(err, errlen, "cannot prepare lazy memory at %#llx: %s", (unsigned long long)a,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

int mm_discard(struct stub *s, uint64_t addr, uint64_t len)
{
	struct rsys r;
	int ret = rsys_begin(&r, s->pid, s->sys_ip);
	if (ret < 0)
		return ret;
	long e = rsys(&r, SYS_madvise, addr, len, MADV_DONTNEED, 0, 0, 0);
	return e < 0 ? (int)e : 0;
}

int mm_rebuild(struct stub *s, const struct fr_image *img, char *err, size_t errlen)
{
	struct rsys r;
	int ret = rsys_find_syscall(s->pid, &s->sys_ip);
	if (ret < 0) {
		snprintf(err, errlen, "the restore stub has no [vdso]: %s", strerror(-ret));
		return ret;
	}
	if ((ret = rsys_begin(&r, s->pid, s->sys_ip)) < 0)
		return ret;

	/* ferry's rseq area is about to vanish: unregister it first, or the
	 * kernel's next rseq update would fault the stub. */
	struct ferry_rseq_config rc = {0};
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, s->pid, (void *)sizeof(rc), &rc) > 0 && rc.rseq_abi_pointer) {
		long e = rsys(&r, SYS_rseq, rc.rseq_abi_pointer, rc.rseq_abi_size, RSEQ_FLAG_UNREGISTER, rc.signature,
			      0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot unregister the stub's rseq area: %s", strerror((int)-e));
			return (int)e;
		}
	}

	struct block have = {0}, want = {0};
	struct proc_map *maps;
	size_t n;
	if ((ret = proc_read_maps(s->pid, &maps, &n)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = special_kind(maps[i].name);
		if (k)
			block_add(&have, k, maps[i].start, maps[i].end);
	}
	free(maps);
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (is_special(img->vmas[i].kind))
			block_add(&want, img->vmas[i].kind, img->vmas[i].start, img->vmas[i].end);
	for (uint32_t k = VMA_VDSO; k <= VMA_VVAR_VCLOCK; k++)
		if (want.len[k] != have.len[k]) {
			snprintf(err, errlen, "the %s here is %llu bytes but was %llu bytes: a different kernel",
				 fr_vma_kind_name(k), (unsigned long long)have.len[k], (unsigned long long)want.len[k]);
			return -EOPNOTSUPP;
		}

	if (want.lo && overlaps(want.lo, want.hi, have.lo, have.hi) && want.lo != have.lo) {
		struct block park = have;
		for (uint32_t k = VMA_VDSO; k <= VMA_VVAR_VCLOCK; k++)
			if (park.len[k])
				park.start[k] = have.start[k] - have.lo + PARK_BASE;
		park.lo = PARK_BASE, park.hi = have.hi - have.lo + PARK_BASE;
		if ((ret = move_block(&r, &have, &park, err, errlen)) < 0)
			return ret;
	}
	if (want.lo && (ret = move_block(&r, &have, &want, err, errlen)) < 0)
		return ret;
	s->sys_ip = r.syscall_ip;

	/* Everything of ferry's below and above the block goes. */
	uint64_t lo = have.lo ? have.lo : USER_TOP, hi = have.lo ? have.hi : USER_TOP;
	long e = rsys(&r, SYS_munmap, 0, lo, 0, 0, 0, 0);
	if (e == 0 && hi < USER_TOP)
		e = rsys(&r, SYS_munmap, hi, USER_TOP - hi, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "cannot clear the stub's address space: %s", strerror((int)-e));
		return (int)e;
	}

	long page = sysconf(_SC_PAGESIZE);
	s->scratch_len = (size_t)(SCRATCH_PAGES * page);
	uint64_t hole = find_hole(img, s->scratch_len);
	if (!hole || (ret = rsys_scratch_map(&r, hole, s->scratch_len)) < 0) {
		snprintf(err, errlen, "no room for a scratch area in the saved address space");
		return ret < 0 ? ret : -ENOMEM;
	}
	s->scratch = r.scratch;
	return map_vmas(s, &r, img, err, errlen);
}

int mm_open_uffd(struct stub *s, int keep_from, int *uffd)
{
	struct rsys r;
	int mine, ret = rsys_begin(&r, s->pid, s->sys_ip);
	if (ret == 0)
		ret = rsys_take_uffd(&r, s->pid, O_CLOEXEC | O_NONBLOCK, keep_from, &s->keep_fd, &mine);
	if (ret < 0)
		return ret;
	/* post-copy follows what the running process does to lazy memory:
	 * mremap moves it, munmap and MADV_DONTNEED drop what is still to come,
	 * fork gives a child that lacks the same pages (without the fork
	 * event the child's copy would be unregistered and read zeros; the
	 * kernel grants it to CAP_SYS_PTRACE, which restoring needs anyway) */
	struct uffdio_api api = {.api = UFFD_API,
				 .features = keep_from >= 0 ? UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
								      UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_FORK
							    : 0};
	if (ioctl(mine, UFFDIO_API, &api) < 0) {
		ret = neg_errno();
		close(mine);
		return ret;
	}
	*uffd = mine;
	return 0;
}

int mm_set_map(struct stub *s, const struct fr_image *img, char *err, size_t errlen)
{
	const struct fr_mm *m = &img->proc.mm;
	struct rsys r;
	int ret = rsys_begin(&r, s->pid, s->sys_ip);
	if (ret < 0)
		return ret;
	long exe_fd = -1;
	if ((ret = open_remote(s, &r, m->exe, O_RDONLY, &exe_fd)) < 0) {
		snprintf(err, errlen, "cannot open the executable %s: %s", m->exe, strerror(-ret));
		return ret;
	}
	struct prctl_mm_map map = {
		.start_code = m->start_code, .end_code = m->end_code, .start_data = m->start_data,
		.end_data = m->end_data, .start_brk = m->start_brk, .brk = m->brk, .start_stack = m->start_stack,
		.arg_start = m->arg_start, .arg_end = m->arg_end, .env_start = m->env_start, .env_end = m->env_end,
		.auxv = (__u64 *)(uintptr_t)(s->scratch + sizeof(map)),
		.auxv_size = m->auxv_words * (uint32_t)sizeof(uint64_t), .exe_fd = (uint32_t)exe_fd};
	ret = remote_write(s->pid, s->scratch, &map, sizeof(map));
	if (ret == 0 && map.auxv_size)
		ret = remote_write(s->pid, s->scratch + sizeof(map), m->auxv, map.auxv_size);
	long e = ret < 0 ? ret : rsys(&r, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, s->scratch, sizeof(map), 0, 0);
	rsys(&r, SYS_close, (uint64_t)exe_fd, 0, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "prctl(PR_SET_MM_MAP) failed: %s (brk %#llx, start_brk %#llx)", strerror((int)-e),
			 (unsigned long long)m->brk, (unsigned long long)m->start_brk);
		return (int)e;
	}
	return 0;
}
