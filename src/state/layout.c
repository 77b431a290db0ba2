/* layout.c — see layout.h. */
#include "layout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int range_list_add(struct range_list *l, uint64_t start, uint64_t end)
{
	if (end <= start)
		return 0;
	if (l->n && l->v[l->n - 1].end == start) {
		l->v[l->n - 1].end = end;
		return 0;
	}
	return range_list_push(l, start, end);
}

int range_list_push(struct range_list *l, uint64_t start, uint64_t end)
{
	if (end <= start)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct fr_range *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct fr_range){start, end};
	return 0;
}

void range_list_free(struct range_list *l)
{
	free(l->v);
	*l = (struct range_list){0};
}

uint64_t range_list_bytes(const struct range_list *l)
{
	uint64_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].end - l->v[i].start;
	return n;
}

int range_list_intersect(const struct range_list *a, const struct range_list *b, struct range_list *out)
{
	size_t i = 0, j = 0;
	while (i < a->n && j < b->n) {
		uint64_t lo = a->v[i].start > b->v[j].start ? a->v[i].start : b->v[j].start;
		uint64_t hi = a->v[i].end < b->v[j].end ? a->v[i].end : b->v[j].end;
		if (lo < hi && range_list_add(out, lo, hi) < 0)
			return -ENOMEM;
		if (a->v[i].end < b->v[j].end)
			i++;
		else
			j++;
	}
	return 0;
}

int range_list_union(struct range_list *l, const struct range_list *add)
{
	struct range_list u = {0};
	size_t i = 0, j = 0;
	while (i < l->n || j < add->n) {
		const struct fr_range *r = j >= add->n || (i < l->n && l->v[i].start <= add->v[j].start) ? &l->v[i++]
													   : &add->v[j++];
		if (u.n && r->start <= u.v[u.n - 1].end) {
			if (r->end > u.v[u.n - 1].end)
				u.v[u.n - 1].end = r->end;
		} else if (range_list_add(&u, r->start, r->end) < 0) {
			range_list_free(&u);
			return -ENOMEM;
		}
	}
	range_list_free(l);
	*l = u;
	return 0;
}

int range_list_subtract(struct range_list *l, const struct range_list *minus)
{
	struct range_list out = {0};
	size_t j = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint64_t at = l->v[i].start, end = l->v[i].end;
		while (j < minus->n && minus->v[j].end <= at)
			j++;
		for (size_t k = j; k < minus->n && minus->v[k].start < end && at < end; k++) {
			if (minus->v[k].start > at && range_list_add(&out, at, minus->v[k].start) < 0)
				goto oom;
			if (minus->v[k].end > at)
				at = minus->v[k].end;
		}
		if (at < end && range_list_add(&out, at, end) < 0)
			goto oom;
	}
	range_list_free(l);
	*l = out;
	return 0;
oom:
	range_list_free(&out);
	return -ENOMEM;
}

static int by_start(const void *a, const void *b)
{
	const struct fr_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void range_list_normalize(struct range_list *l)
{
	if (l->n < 2)
		return;
	qsort(l->v, l->n, sizeof(l->v[0]), by_start);
	size_t k = 0;
	for (size_t i = 1; i < l->n; i++) {
		if (l->v[i].start <= l->v[k].end) {
			if (l->v[i].end > l->v[k].end)
				l->v[k].end = l->v[i].end;
		} else {
			l->v[++k] = l->v[i];
		}
	}
	l->n = k + 1;
}

static bool is_file(uint32_t kind) { return kind == VMA_FILE_PRIVATE || kind == VMA_FILE_SHARED; }

/* Does address `at`, inside both x and y, have the same mapping in both,
 * perhaps with another protection? */
static bool same_mapping(const struct fr_vma *x, const struct fr_vma *y, uint64_t at)
{
	if (x->kind != y->kind || x->flags != y->flags || x->object != y->object)
		return false;
	if ((x->path == NULL) != (y->path == NULL) || (x->path && strcmp(x->path, y->path) != 0))
		return false;
	/* files and shmem objects (one per shared anonymous mmap, split by
	 * mprotect into pieces at their offsets): the same offset here */
	return !(is_file(x->kind) || x->kind == VMA_SHARED_ANON) ||
	       x->pgoff + (at - x->start) == y->pgoff + (at - y->start);
}

int layout_diff(const struct fr_vma *a, uint32_t na, const struct fr_vma *b, uint32_t nb, struct layout_diff *d)
{
	*d = (struct layout_diff){0};
	uint32_t i = 0, j = 0;
	uint64_t pos = 0;
	int r = 0;
	while (r == 0) {
		while (i < na && a[i].end <= pos)
			i++;
		while (j < nb && b[j].end <= pos)
			j++;
		if (i >= na && j >= nb)
			break;
		bool in_a = i < na && a[i].start <= pos, in_b = j < nb && b[j].start <= pos;
		uint64_t next_a = i < na ? (in_a ? a[i].end : a[i].start) : UINT64_MAX;
		uint64_t next_b = j < nb ? (in_b ? b[j].end : b[j].start) : UINT64_MAX;
		uint64_t end = next_a < next_b ? next_a : next_b;
		if (!in_a && !in_b) {
			pos = end;
			continue;
		}
		if (in_a && in_b && same_mapping(&a[i], &b[j], pos)) {
			r = range_list_add(&d->kept, pos, end);
			if (r == 0 && a[i].prot != b[j].prot)
				r = range_list_add(&d->reprot, pos, end);
		} else {
			if (in_a)
				r = range_list_add(&d->removed, pos, end);
			if (r == 0 && in_b)
				r = range_list_add(&d->fresh, pos, end);
		}
		pos = end;
	}
	if (r < 0)
		layout_diff_free(d);
	return r;
}

void layout_diff_free(struct layout_diff *d)
{
	range_list_free(&d->kept);
	range_list_free(&d->removed);
	range_list_free(&d->fresh);
	range_list_free(&d->reprot);
}

const struct fr_vma *layout_find(const struct fr_vma *v, uint32_t n, uint64_t addr)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].start <= addr ? &v[lo] : NULL;
}
