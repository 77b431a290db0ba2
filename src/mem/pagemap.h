/* pagemap.h — reading /proc/PID/pagemap: the entry bits ferry uses, and the
 * pages of a range whose entry passes a test, as ranges. */
#ifndef FERRY_PAGEMAP_H
#define FERRY_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
