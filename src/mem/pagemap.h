/* pagemap.h — reading /proc/PID/pagemap: the entry bits ferry uses, the
 * PAGEMAP_SCAN ioctl's walk (Linux >= 6.7: the pages of a range that match
 * categories, as ranges, in one call per batch of ranges), and the pages of
 * a range that hold data, by that ioctl or, on older kernels, by reading the
 * entries page by page. */
#ifndef FERRY_PAGEMAP_H
#define FERRY_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/compat.h" /* struct pm_scan_arg, struct page_region */
#include "../state/layout.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61) /* file page or shared anonymous: not COW'd */
#define PM_SOFT_DIRTY (1ull << 55)

/* A page with data: present or swapped out. */
static inline bool pm_has_data(uint64_t e) { return e & (PM_PRESENT | PM_SWAPPED); }

/* Appends to out the pages of [start, end) whose entry passes `wanted`
 * (ascending, adjacent ones merged). -errno if pagemap cannot be read. */
int pagemap_ranges(int pagemap_fd, long page, uint64_t start, uint64_t end, bool (*wanted)(uint64_t entry),
		   struct range_list *out);

/* PAGEMAP_SCAN over [start, end) with the flags and categories of how
 * (its size, range and vec are filled in here), resumed at walk_end until
 * the range is done; the regions found are appended to out (if not NULL).
 * vec: vec_len regions of the caller's, reused for every batch. -ENOTTY:
 * the kernel has no PAGEMAP_SCAN. */
int pagemap_scan(int pagemap_fd, struct page_region *vec, size_t vec_len, const struct pm_scan_arg *how,
		 uint64_t start, uint64_t end, struct range_list *out);

/* Appends to out the pages of [start, end) with data (pm_has_data: present,
 * the zero page included, or swapped): PAGEMAP_SCAN, or pagemap entries
 * read page by page where the kernel lacks it. */
int pagemap_data_ranges(int pagemap_fd, long page, uint64_t start, uint64_t end, struct range_list *out);

#endif
