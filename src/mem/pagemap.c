/* pagemap.c — see pagemap.h. */
#include "pagemap.h"

#include <errno.h>
#include <unistd.h>

#include "../common/util.h"

#define PAGEMAP_BATCH 512 /* entries read at a time */

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
