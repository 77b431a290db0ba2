/* pagemap.c — see pagemap.h. */
#include "pagemap.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/util.h"

#define PAGEMAP_BATCH 512 /* entries read at a time */
#define DATA_SCAN_VEC 256 /* regions per PAGEMAP_SCAN call for pagemap_data_ranges (6 KiB of stack) */

int pagemap_ranges(int pagemap_fd, long page, uint64_t start, uint64_t end, bool (*wanted)(uint64_t entry),
		   struct range_list *out)
{
	uint64_t ent[PAGEMAP_BATCH];
	for (uint64_t a = start; a < end;) {
		size_t want = (size_t)MIN((end - a) / (uint64_t)page, (uint64_t)PAGEMAP_BATCH);
		ssize_t got = pread(pagemap_fd, ent, want * sizeof(ent[0]), (off_t)(a / (uint64_t)page * sizeof(ent[0])));
		if (got <= 0)
			return got < 0 ? neg_errno() : -EIO;
		for (size_t i = 0; i < (size_t)got / sizeof(ent[0]); i++, a += (uint64_t)page)
			if (wanted(ent[i]) && range_list_add(out, a, a + (uint64_t)page) < 0)
				return -ENOMEM;
	}
	return 0;
}

int pagemap_scan(int pagemap_fd, struct page_region *vec, size_t vec_len, const struct pm_scan_arg *how,
		 uint64_t start, uint64_t end, struct range_list *out)
{
	while (start < end) {
		struct pm_scan_arg a = *how;
		a.size = sizeof(a), a.start = start, a.end = end;
		a.vec = (uint64_t)(uintptr_t)vec, a.vec_len = vec_len;
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return neg_errno();
		for (long i = 0; out && i < n; i++)
			if (range_list_add(out, vec[i].start, vec[i].end) < 0)
				return -ENOMEM;
		if (a.walk_end <= start)
			return -EIO; /* no progress: never loop forever on a kernel surprise */
		start = a.walk_end;
	}
	return 0;
}

int pagemap_data_ranges(int pagemap_fd, long page, uint64_t start, uint64_t end, struct range_list *out)
{
	struct page_region vec[DATA_SCAN_VEC];
	struct pm_scan_arg how = {.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				  .return_mask = PAGE_IS_PRESENT};
	int r = pagemap_scan(pagemap_fd, vec, DATA_SCAN_VEC, &how, start, end, out);
	if (r == -ENOTTY) /* before Linux 6.7 */
		r = pagemap_ranges(pagemap_fd, page, start, end, pm_has_data, out);
	return r;
}
