/* test_pagemap.c — the pages of a range that hold data (pagemap_data_ranges,
 * by PAGEMAP_SCAN) are exactly those whose pagemap entry says present or
 * swapped (read page by page): written pages, a page only read (the zero
 * page), none of the untouched or MADV_DONTNEED ones; holes around the
 * mapping are skipped. Checked on this process's own memory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/pagemap.h"

#define NPAGES 64

static void test_data_ranges(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	/* a guard page on each side, unmapped: a hole the scan walks over */
	uint8_t *all = mmap(NULL, (NPAGES + 2) * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(all, MAP_FAILED);
	uint8_t *m = all + page;
	assert_int_equal(munmap(all, (size_t)page), 0);
	assert_int_equal(munmap(m + NPAGES * (size_t)page, (size_t)page), 0);
	static const int written[] = {0, 1, 2, 3, 10, 40, 41, 63};
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		memset(m + (size_t)written[i] * (size_t)page, 0x5a, (size_t)page);
	volatile uint8_t sink = m[20 * (size_t)page]; /* read only: the zero page */
	(void)sink;
	assert_int_equal(madvise(m + 2 * (size_t)page, (size_t)page, MADV_DONTNEED), 0);

	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t lo = (uint64_t)(uintptr_t)all, hi = lo + (NPAGES + 2) * (uint64_t)page;
	struct range_list scan = {0}, entries = {0};
	assert_int_equal(pagemap_data_ranges(fd, page, lo, hi, &scan), 0);
	assert_int_equal(pagemap_ranges(fd, page, lo, hi, pm_has_data, &entries), 0);
	uint64_t b = (uint64_t)(uintptr_t)m, p = (uint64_t)page;
	const struct fr_range want[] = {{b, b + 2 * p}, {b + 3 * p, b + 4 * p}, {b + 10 * p, b + 11 * p},
					{b + 20 * p, b + 21 * p}, {b + 40 * p, b + 42 * p}, {b + 63 * p, b + 64 * p}};
	assert_int_equal(scan.n, sizeof(want) / sizeof(want[0]));
	assert_int_equal(entries.n, scan.n);
	for (size_t i = 0; i < scan.n; i++) {
		assert_int_equal(scan.v[i].start, want[i].start);
		assert_int_equal(scan.v[i].end, want[i].end);
		assert_int_equal(entries.v[i].start, want[i].start);
		assert_int_equal(entries.v[i].end, want[i].end);
	}
	range_list_free(&scan);
	range_list_free(&entries);
	close(fd);
	munmap(m, NPAGES * (size_t)page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
