/* lazy_index.c — see lazy_index.h. */
#include "lazy_index.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int lazy_index_init(struct lazy_index *ix, const struct range_list *ranges)
{
	*ix = (struct lazy_index){.ranges = ranges, .page = sysconf(_SC_PAGESIZE)};
	ix->first = malloc((ranges->n + 1) * sizeof(*ix->first));
	if (!ix->first)
		return -ENOMEM;
	for (size_t i = 0; i < ranges->n; i++) {
		ix->first[i] = ix->total;
		ix->total += (ranges->v[i].end - ranges->v[i].start) / (uint64_t)ix->page;
	}
	ix->state = calloc(ix->total ? ix->total : 1, 1);
	return ix->state ? 0 : -ENOMEM;
}

int64_t lazy_index_of(const struct lazy_index *ix, uint64_t addr)
{
	size_t lo = 0, hi = ix->ranges->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->ranges->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ix->ranges->n || ix->ranges->v[lo].start > addr)
		return -1;
	return (int64_t)(ix->first[lo] + (addr - ix->ranges->v[lo].start) / (uint64_t)ix->page);
}

uint64_t lazy_index_addr(const struct lazy_index *ix, uint64_t k)
{
	size_t lo = 0, hi = ix->ranges->n;
	while (hi - lo > 1) { /* the last range whose first page is <= k */
		size_t mid = lo + (hi - lo) / 2;
		if (ix->first[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	return ix->ranges->v[lo].start + (k - ix->first[lo]) * (uint64_t)ix->page;
}

void lazy_index_free(struct lazy_index *ix)
{
	free(ix->first);
	free(ix->state);
	ix->first = NULL;
	ix->state = NULL;
}
