/* dirty.c — see dirty.h. */
#include "dirty.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/compat.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/features.h"
#include "../inspect/proc.h"
#include "../inspect/rsys.h"
#include "pagemap.h"

#define SCAN_VEC_LEN 4096        /* regions per PAGEMAP_SCAN call; the walk resumes at walk_end */
#define SCAN_RETRIES 20
#define SCAN_RETRY_US 500

static const char *const backend_names[] = {
	[DIRTY_NONE] = "none (full resend)",
	[DIRTY_SOFT_DIRTY] = "soft_dirty",
	[DIRTY_UFFD_WP] = "uffd_wp_async + pagemap_scan",
};

const char *dirty_backend_name(enum dirty_backend b) { return backend_names[b]; }

static bool feature_works(const char *name)
{
	char detail[256];
	const struct feature *f = feature_find(name);
	return f && f->probe(detail, sizeof(detail)) == 0;
}

enum dirty_backend dirty_backend_best(void)
{
	if (feature_works("uffd_wp_async") && feature_works("pagemap_scan") && feature_works("pidfd_getfd"))
		return DIRTY_UFFD_WP;
	if (feature_works("soft_dirty"))
		return DIRTY_SOFT_DIRTY;
	return DIRTY_NONE;
}

/* The tracked set keeps one entry per range registered (a mapping when it
 * was tracked), never merged with its neighbours (range_list_push): a scan
 * that fails on one entry then costs only that entry (see dirty_collect). */
/* The tracked set without [start, end). */
static int tracked_remove(struct dirty_tracker *t, uint64_t start, uint64_t end)
{
	struct range_list kept = {0};
	int r = 0;
	for (size_t i = 0; r == 0 && i < t->tracked.n; i++) {
		struct fr_range g = t->tracked.v[i];
		if (g.end <= start || g.start >= end) {
			r = range_list_push(&kept, g.start, g.end);
			continue;
		}
		r = range_list_push(&kept, g.start, MIN(g.end, start));
		if (r == 0)
			r = range_list_push(&kept, MAX(g.start, end), g.end);
	}
	if (r < 0) {
		range_list_free(&kept);
		return r;
	}
	range_list_free(&t->tracked);
	t->tracked = kept;
	return 0;
}

static int by_start(const void *x, const void *y)
{
	const struct fr_range *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

/* Adds [start, end) to the tracked set as its own entry, replacing what it
 * covers, kept sorted so that every collect reports in address order. */
static int tracked_insert(struct dirty_tracker *t, uint64_t start, uint64_t end)
{
	int r = tracked_remove(t, start, end);
	if (r == 0)
		r = range_list_push(&t->tracked, start, end);
	if (r == 0)
		qsort(t->tracked.v, t->tracked.n, sizeof(t->tracked.v[0]), by_start);
	return r;
}

int dirty_open(struct dirty_tracker *t, pid_t pid, enum dirty_backend b, struct rsys *rs, char *err, size_t errlen)
{
	*t = (struct dirty_tracker){.pid = pid, .backend = b, .uffd = -1, .pagemap_fd = -1,
				    .page = (uint64_t)sysconf(_SC_PAGESIZE)};
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->pagemap_fd < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-e));
		return e;
	}
	if (b != DIRTY_UFFD_WP)
		return 0;
	t->scan_len = SCAN_VEC_LEN;
	t->scan_vec = calloc(t->scan_len, sizeof(struct page_region));
	if (!t->scan_vec) {
		snprintf(err, errlen, "out of memory for the dirty page scan");
		dirty_close(t);
		return -ENOMEM;
	}
	int r = rsys_take_uffd(rs, pid, O_CLOEXEC | O_NONBLOCK, -1, NULL, &t->uffd);
	if (r < 0) {
		snprintf(err, errlen, "cannot make a userfaultfd inside pid %d: %s", pid, strerror(-r));
		dirty_close(t);
		return r;
	}
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	if (ioctl(t->uffd, UFFDIO_API, &api) < 0) {
		r = neg_errno();
		snprintf(err, errlen, "userfaultfd write-protect (async) refused: %s", strerror(-r));
		dirty_close(t);
		return r;
	}
	return 0;
}

/* PAGEMAP_SCAN over [start, end) with the tracker's vec (pagemap.h). */
static int scan_loop(struct dirty_tracker *t, struct pm_scan_arg how, uint64_t start, uint64_t end,
		     struct range_list *out)
{
	return pagemap_scan(t->pagemap_fd, t->scan_vec, t->scan_len, &how, start, end, out);
}

/* Written pages of [start, end) are appended to out (if not NULL) and
 * write-protected again. -EPERM: part of the range is not registered any
 * more (its mapping was replaced). */
static int scan_written(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *out)
{
	struct pm_scan_arg how = {.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				  .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN};
	return scan_loop(t, how, start, end, out);
}

/* The pages of [start, end) whose /proc/PID/pagemap entry `wanted`. */
static bool soft_dirty(uint64_t e) { return e & PM_SOFT_DIRTY; }

/* Soft-dirty: pages of [start, end) with pagemap bit 55 (present or swapped). */
static int scan_soft_dirty(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *out)
{
	return pagemap_ranges(t->pagemap_fd, t->page, start, end, soft_dirty, out);
}

/* [start, end) is no longer one registered stretch of memory: part of it
 * was unmapped (ENOMEM) or mapped anew, unregistered (EPERM). Scan it mapping
 * by mapping; what cannot be scanned counts as written whole. */
static int scan_changed(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *lost)
{
	struct proc_map *maps;
	size_t n;
	int r = proc_read_maps(t->pid, &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		uint64_t a = MAX(start, maps[i].start), b = MIN(end, maps[i].end);
		if (a >= b)
			continue;
		r = scan_written(t, a, b, NULL);
		if (r == -EPERM || r == -ENOMEM) {
			pr_debug("dirty: %#llx-%#llx was mapped anew under the tracker", (unsigned long long)a,
				 (unsigned long long)b);
			r = lost ? range_list_add(lost, a, b) : 0;
		}
	}
	free(maps);
	return r;
}

int dirty_replaced(struct dirty_tracker *t, struct range_list *out)
{
	if (t->backend != DIRTY_UFFD_WP)
		return 0; /* soft-dirty marks survive a remap as written pages; none sends all */
	/* mappings not registered with the tracker's uffd, holes and pages
	 * alike; registered ones are skipped whole */
	struct pm_scan_arg how = {.category_inverted = PAGE_IS_WPALLOWED, .category_mask = PAGE_IS_WPALLOWED,
				  .return_mask = PAGE_IS_WPALLOWED};
	for (size_t i = 0; i < t->tracked.n; i++) {
		int r = scan_loop(t, how, t->tracked.v[i].start, t->tracked.v[i].end, out);
		if (r < 0)
			return r;
	}
	range_list_normalize(out);
	return 0;
}

static int clear_soft_dirty(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	return write_small_file(path, "4") < 0 ? neg_errno() : 0;
}

int dirty_track(struct dirty_tracker *t, uint64_t start, uint64_t end)
{
	return dirty_track_collect(t, start, end, NULL);
}

int dirty_track_collect(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *written)
{
	if (start >= end || start % t->page || end % t->page)
		return -EINVAL;
	if (t->backend == DIRTY_UFFD_WP) {
		struct uffdio_register reg = {.range = {.start = start, .len = end - start},
					      .mode = UFFDIO_REGISTER_MODE_WP};
		if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) < 0)
			return neg_errno();
		int r = scan_written(t, start, end, written); /* arm: write-protect every page */
		if (r < 0) {
			struct uffdio_range rg = {.start = start, .len = end - start};
			ioctl(t->uffd, UFFDIO_UNREGISTER, &rg);
			return r;
		}
	} else if (t->backend == DIRTY_SOFT_DIRTY) {
		/* clear_refs clears the whole process: the other tracked ranges'
		 * marks are collected first and kept for the next dirty_collect. */
		for (size_t i = 0; i < t->tracked.n; i++) {
			int r = scan_soft_dirty(t, t->tracked.v[i].start, t->tracked.v[i].end, &t->pending);
			if (r < 0)
				return r;
		}
		int r = clear_soft_dirty(t->pid);
		if (r < 0)
			return r;
	}
	return tracked_insert(t, start, end);
}

void dirty_untrack(struct dirty_tracker *t, uint64_t start, uint64_t end)
{
	/* No UFFDIO_UNREGISTER: unmapping dropped the registration already, and
	 * unregistering part of a live mapping would split it (see dirty.h). */
	if (tracked_remove(t, start, end) < 0)
		pr_warn("out of memory while untracking %#llx-%#llx", (unsigned long long)start, (unsigned long long)end);
}

int dirty_collect(struct dirty_tracker *t, struct range_list *out, struct range_list *lost)
{
	for (size_t i = 0; i < t->pending.n; i++) {
		int r = range_list_add(out, t->pending.v[i].start, t->pending.v[i].end);
		if (r < 0)
			return r;
	}
	range_list_free(&t->pending);
	for (size_t i = 0; i < t->tracked.n; i++) {
		struct fr_range g = t->tracked.v[i];
		int r;
		switch (t->backend) {
		case DIRTY_UFFD_WP:
			r = scan_written(t, g.start, g.end, out);
			if (r == -EPERM || r == -ENOMEM) {
				/* Part of the entry is no longer the mapping registered. The
				 * failed walk may have write-protected pages before it
				 * stopped, without reporting them: all of it counts as
				 * written; the parts still registered are armed again. */
				r = range_list_add(out, g.start, g.end);
				if (r == 0)
					r = scan_changed(t, g.start, g.end, lost);
			}
			break;
		case DIRTY_SOFT_DIRTY:
			r = scan_soft_dirty(t, g.start, g.end, out);
			break;
		default:
			r = range_list_add(out, g.start, g.end);
			break;
		}
		if (r < 0)
			return r;
	}
	range_list_normalize(out);
	if (lost)
		range_list_normalize(lost);
	return t->backend == DIRTY_SOFT_DIRTY ? clear_soft_dirty(t->pid) : 0;
}

/* pagemap: a page of private memory without data of its own. */
static bool no_own_data(uint64_t e)
{
	return !((e & PM_SWAPPED) || ((e & PM_PRESENT) && !(e & PM_FILE)));
}

static int absent_by_pagemap(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *out)
{
	return pagemap_ranges(t->pagemap_fd, t->page, start, end, no_own_data, out);
}

static int absent_by_scan(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *out)
{
	/* not swapped, and: not present, or the file's page, or the zero page */
	struct pm_scan_arg how = {.category_inverted = PAGE_IS_SWAPPED | PAGE_IS_PRESENT,
				  .category_mask = PAGE_IS_SWAPPED,
				  .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_FILE | PAGE_IS_PFNZERO,
				  .return_mask = PAGE_IS_PRESENT};
	return scan_loop(t, how, start, end, out);
}

int dirty_absent(struct dirty_tracker *t, const struct range_list *in, struct range_list *out)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < in->n; i++)
		r = t->scan_vec ? absent_by_scan(t, in->v[i].start, in->v[i].end, out)
				: absent_by_pagemap(t, in->v[i].start, in->v[i].end, out);
	return r;
}

void dirty_close(struct dirty_tracker *t)
{
	/* The last reference: the kernel unregisters every mapping, clears the
	 * write-protection and merges the mappings back as they would be. */
	if (t->uffd >= 0)
		close(t->uffd);
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	range_list_free(&t->tracked);
	range_list_free(&t->pending);
	free(t->scan_vec);
	*t = (struct dirty_tracker){.uffd = -1, .pagemap_fd = -1};
}
