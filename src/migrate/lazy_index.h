/* lazy_index.h — the pages of a post-copy migration's lazy ranges (sorted),
 * numbered 0..total-1 in address order, each with a state byte the two
 * ends use as they need (sent; requested / placed). Pure: no process. */
#ifndef FERRY_LAZY_INDEX_H
#define FERRY_LAZY_INDEX_H

#include <stdint.h>

#include "../state/layout.h"

struct lazy_index {
	const struct range_list *ranges;
	uint64_t *first; /* index of each range's first page */
	uint64_t total;
	long page;
	uint8_t *state; /* one per page, 0 at first */
};

int lazy_index_init(struct lazy_index *ix, const struct range_list *ranges);
/* The index of the page at addr, or -1 if it is not lazy. */
int64_t lazy_index_of(const struct lazy_index *ix, uint64_t addr);
/* The address of page k (k < total). */
uint64_t lazy_index_addr(const struct lazy_index *ix, uint64_t k);
void lazy_index_free(struct lazy_index *ix);

#endif
