/* test_layout.c — the layout diff that pre-copy's two ends both run: an
 * unchanged layout is all kept; brk growth keeps the old heap and makes the
 * growth fresh; munmap removes; mremap moves are removed + fresh; an
 * mprotect in the middle of a mapping only reprotects that part (private or
 * a shmem object's piece); a new shmem object at the same place and a file mapped
 * at another offset is changed; range lists intersect, unite, subtract and normalize;
 * layout_find finds the VMA of an address; fr_vma_lazy_at picks post-copy's
 * memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state/layout.h"

#define P 4096ull

static struct fr_vma anon(uint64_t s, uint64_t e, uint32_t prot)
{
	return (struct fr_vma){.start = s * P, .end = e * P, .prot = prot, .flags = 0x02 /* MAP_PRIVATE */,
			       .kind = VMA_ANON};
}

static struct fr_vma file(uint64_t s, uint64_t e, uint64_t pgoff, char *path)
{
	return (struct fr_vma){.start = s * P, .end = e * P, .prot = 1, .flags = 0x02, .kind = VMA_FILE_PRIVATE,
			       .pgoff = pgoff * P, .path = path};
}

static struct fr_vma shmem(uint64_t s, uint64_t e, uint64_t pgoff, uint32_t prot)
{
	return (struct fr_vma){.start = s * P, .end = e * P, .prot = prot, .flags = 0x01 /* MAP_SHARED */,
			       .kind = VMA_SHARED_ANON, .pgoff = pgoff * P};
}

static void expect(const struct range_list *l, size_t n, const uint64_t *pairs)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l->v[i].start, pairs[2 * i] * P);
		assert_int_equal(l->v[i].end, pairs[2 * i + 1] * P);
	}
}

static void test_same_layout_is_kept(void **state)
{
	(void)state;
	struct fr_vma a[] = {anon(10, 20, 3), file(30, 40, 0, "/lib/x"), anon(40, 50, 3)};
	struct layout_diff d;
	assert_int_equal(layout_diff(a, 3, a, 3, &d), 0);
	expect(&d.kept, 2, (uint64_t[]){10, 20, 30, 50});
	expect(&d.removed, 0, NULL);
	expect(&d.fresh, 0, NULL);
	layout_diff_free(&d);
}

static void test_growth_unmap_move(void **state)
{
	(void)state;
	struct fr_vma a[] = {anon(10, 20, 3), anon(30, 35, 3), anon(60, 70, 3)};
	/* heap grew 20 -> 25; 30-35 unmapped; 60-70 moved to 80-90 */
	struct fr_vma b[] = {anon(10, 25, 3), anon(80, 90, 3)};
	struct layout_diff d;
	assert_int_equal(layout_diff(a, 3, b, 2, &d), 0);
	expect(&d.kept, 1, (uint64_t[]){10, 20});
	expect(&d.fresh, 2, (uint64_t[]){20, 25, 80, 90});
	expect(&d.removed, 2, (uint64_t[]){30, 35, 60, 70});
	assert_int_equal(range_list_bytes(&d.fresh), 15 * P);
	layout_diff_free(&d);
}

static void test_mprotect_and_file_offset(void **state)
{
	(void)state;
	struct fr_vma a[] = {anon(10, 20, 3), file(30, 40, 0, "/lib/x")};
	struct fr_vma b[] = {anon(10, 12, 3), anon(12, 14, 1), anon(14, 20, 3), file(30, 40, 1, "/lib/x")};
	struct layout_diff d;
	assert_int_equal(layout_diff(a, 2, b, 4, &d), 0);
	/* an mprotect keeps the mapping (and its pages): only reprotected */
	expect(&d.kept, 1, (uint64_t[]){10, 20});
	expect(&d.reprot, 1, (uint64_t[]){12, 14});
	expect(&d.removed, 1, (uint64_t[]){30, 40});
	expect(&d.fresh, 1, (uint64_t[]){30, 40});
	layout_diff_free(&d);
	/* a shmem object split by mprotect: its pieces at their offsets are
	 * kept; a new object at the same place (offset 0 again) is not */
	struct fr_vma s0[] = {shmem(50, 60, 0, 3)};
	struct fr_vma s1[] = {shmem(50, 53, 0, 3), shmem(53, 54, 3, 1), shmem(54, 60, 4, 3)};
	struct fr_vma s2[] = {shmem(50, 53, 0, 3), shmem(53, 60, 0, 3)};
	assert_int_equal(layout_diff(s0, 1, s1, 3, &d), 0);
	expect(&d.kept, 1, (uint64_t[]){50, 60});
	expect(&d.reprot, 1, (uint64_t[]){53, 54});
	expect(&d.fresh, 0, NULL);
	layout_diff_free(&d);
	assert_int_equal(layout_diff(s0, 1, s2, 2, &d), 0);
	expect(&d.kept, 1, (uint64_t[]){50, 53});
	expect(&d.fresh, 1, (uint64_t[]){53, 60});
	layout_diff_free(&d);
	/* the same file split in two pieces at consistent offsets is kept */
	struct fr_vma c[] = {anon(10, 20, 3), file(30, 33, 0, "/lib/x"), file(33, 40, 3, "/lib/x")};
	assert_int_equal(layout_diff(a, 2, c, 3, &d), 0);
	expect(&d.kept, 2, (uint64_t[]){10, 20, 30, 40});
	expect(&d.fresh, 0, NULL);
	layout_diff_free(&d);
	/* another file at the same place is changed */
	struct fr_vma e[] = {anon(10, 20, 3), file(30, 40, 0, "/lib/y")};
	assert_int_equal(layout_diff(a, 2, e, 2, &d), 0);
	expect(&d.fresh, 1, (uint64_t[]){30, 40});
	layout_diff_free(&d);
}

static void test_list_operations(void **state)
{
	(void)state;
	struct range_list a = {0}, b = {0}, x = {0};
	range_list_add(&a, 0, 10 * P), range_list_add(&a, 20 * P, 30 * P);
	range_list_add(&b, 5 * P, 25 * P), range_list_add(&b, 29 * P, 40 * P);
	assert_int_equal(range_list_intersect(&a, &b, &x), 0);
	expect(&x, 3, (uint64_t[]){5, 10, 20, 25, 29, 30});
	assert_int_equal(range_list_union(&a, &b), 0);
	expect(&a, 1, (uint64_t[]){0, 40});
	struct range_list c = {0};
	range_list_add(&c, 50 * P, 60 * P);
	assert_int_equal(range_list_union(&c, &x), 0);
	expect(&c, 4, (uint64_t[]){5, 10, 20, 25, 29, 30, 50, 60});
	/* c minus [7, 22) and [55, 100) */
	struct range_list m = {0};
	range_list_add(&m, 7 * P, 22 * P), range_list_add(&m, 55 * P, 100 * P);
	assert_int_equal(range_list_subtract(&c, &m), 0);
	expect(&c, 4, (uint64_t[]){5, 7, 22, 25, 29, 30, 50, 55});
	/* unsorted, overlapping input is sorted and merged */
	struct range_list u = {0};
	range_list_add(&u, 30 * P, 40 * P), range_list_add(&u, 10 * P, 20 * P), range_list_add(&u, 15 * P, 31 * P);
	range_list_normalize(&u);
	expect(&u, 1, (uint64_t[]){10, 40});
	range_list_free(&a), range_list_free(&b), range_list_free(&x), range_list_free(&c), range_list_free(&m),
		range_list_free(&u);
}

static void test_find(void **state)
{
	(void)state;
	struct fr_vma a[] = {anon(10, 20, 3), anon(30, 35, 3)};
	assert_ptr_equal(layout_find(a, 2, 10 * P), &a[0]);
	assert_ptr_equal(layout_find(a, 2, 20 * P - 1), &a[0]);
	assert_null(layout_find(a, 2, 20 * P));
	assert_ptr_equal(layout_find(a, 2, 34 * P), &a[1]);
	assert_null(layout_find(a, 2, 35 * P));
	assert_null(layout_find(a, 0, 0));
}

/* Which private anonymous mappings post-copy leaves behind: writable ones,
 * unless a run of adjacent ones has a read-only stretch (the restore may
 * rebuild such a run whole); a malloc arena (rw + PROT_NONE reserve) and
 * thread stacks (guard + rw, next to each other) stay lazy; mlock'd memory
 * does not (except MLOCK_ONFAULT). */
static void test_lazy_at(void **state)
{
	(void)state;
	struct fr_vma arena[] = {anon(10, 20, 3), anon(20, 60, 0)};
	assert_true(fr_vma_lazy_at(arena, 2, 0));
	assert_false(fr_vma_lazy_at(arena, 2, 1));
	struct fr_vma stack[] = {anon(10, 11, 0), anon(11, 30, 3)};
	assert_true(fr_vma_lazy_at(stack, 2, 1));
	struct fr_vma ro[] = {anon(10, 17, 3), anon(17, 18, 1), anon(18, 46, 3), anon(50, 60, 3)};
	assert_false(fr_vma_lazy_at(ro, 4, 0));
	assert_false(fr_vma_lazy_at(ro, 4, 2));
	assert_true(fr_vma_lazy_at(ro, 4, 3)); /* not adjacent: another run */
	struct fr_vma stacks[] = {anon(10, 17, 3), anon(17, 18, 0), anon(18, 46, 3)};
	assert_true(fr_vma_lazy_at(stacks, 3, 0));
	assert_true(fr_vma_lazy_at(stacks, 3, 2));
	struct fr_vma locked[] = {anon(10, 20, 3), anon(30, 40, 3)};
	locked[0].attrs = FR_VMA_LOCKED;
	locked[1].attrs = FR_VMA_LOCKED | FR_VMA_LOCKONFAULT;
	assert_false(fr_vma_lazy_at(locked, 2, 0));
	assert_true(fr_vma_lazy_at(locked, 2, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_layout_is_kept),
		cmocka_unit_test(test_growth_unmap_move),
		cmocka_unit_test(test_mprotect_and_file_offset),
		cmocka_unit_test(test_list_operations),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_lazy_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
