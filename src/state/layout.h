/* layout.h — comparing two address-space layouts (sorted VMA lists, as a
 * capture or a pre-copy round reads them): which address ranges kept their
 * mapping (same kind, flags, file and file offset, or the same piece of the
 * same shmem object), which of those only changed protection (mprotect),
 * which were removed and which are fresh. A changed range (a file mapped
 * over anonymous memory) is both removed and fresh. Pre-copy's sender and
 * receiver run it on the same two lists, so they agree on what a round
 * sends whole (fresh), what it sends only where written (kept), what the
 * destination mprotects, and what it unmaps and maps anew. Pure: no
 * process is touched. */
#ifndef FERRY_LAYOUT_H
#define FERRY_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct fr_range {
	uint64_t start, end;
};

/* Sorted, non-overlapping ranges; adjacent ones are merged as they are added. */
struct range_list {
	struct fr_range *v;
	size_t n, cap;
};

int range_list_add(struct range_list *l, uint64_t start, uint64_t end);
/* Appends [start, end) as an entry of its own (no merge, no order kept). */
int range_list_push(struct range_list *l, uint64_t start, uint64_t end);
void range_list_free(struct range_list *l);
uint64_t range_list_bytes(const struct range_list *l);

/* out gets a ∩ b (out must be empty; a and b sorted). */
int range_list_intersect(const struct range_list *a, const struct range_list *b, struct range_list *out);
/* l becomes l ∪ add, sorted and merged (both must be sorted: see
 * range_list_normalize). */
int range_list_union(struct range_list *l, const struct range_list *add);

/* l becomes l without the ranges of minus (sorted). */
int range_list_subtract(struct range_list *l, const struct range_list *minus);
/* Sorts l by address and merges what overlaps or touches. */
void range_list_normalize(struct range_list *l);

struct layout_diff {
	struct range_list kept, removed, fresh;
	struct range_list reprot; /* the part of kept with another protection now */
};

/* Compares layout a (before) with layout b (now). -ENOMEM, else 0. */
int layout_diff(const struct fr_vma *a, uint32_t na, const struct fr_vma *b, uint32_t nb, struct layout_diff *d);
void layout_diff_free(struct layout_diff *d);

/* The VMA of a sorted list that contains addr, or NULL. */
const struct fr_vma *layout_find(const struct fr_vma *v, uint32_t n, uint64_t addr);

#endif
