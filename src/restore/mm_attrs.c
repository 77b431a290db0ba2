/* mm_attrs.c — what mlock and madvise had set on the process's mappings,
 * set again by remote calls once every page is in place (mlock faults the
 * range in: before the pages came, it would fill it with zero pages that
 * UFFDIO_COPY then refuses to replace). A kernel without THP or KSM
 * refuses MADV_HUGEPAGE / MADV_MERGEABLE: said, not fatal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../common/log.h"
#include "../inspect/rsys.h"
#include "internal.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static const struct {
	uint32_t attr;
	int advice;
	const char *name;
} advices[] = {
	{FR_VMA_DONTFORK, MADV_DONTFORK, "MADV_DONTFORK"},     {FR_VMA_DONTDUMP, MADV_DONTDUMP, "MADV_DONTDUMP"},
	{FR_VMA_WIPEONFORK, MADV_WIPEONFORK, "MADV_WIPEONFORK"}, {FR_VMA_HUGEPAGE, MADV_HUGEPAGE, "MADV_HUGEPAGE"},
	{FR_VMA_NOHUGEPAGE, MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"}, {FR_VMA_MERGEABLE, MADV_MERGEABLE, "MADV_MERGEABLE"},
	{FR_VMA_SEQUENTIAL, MADV_SEQUENTIAL, "MADV_SEQUENTIAL"}, {FR_VMA_RANDOM, MADV_RANDOM, "MADV_RANDOM"},
};

static bool optional(uint32_t attr) { return attr == FR_VMA_HUGEPAGE || attr == FR_VMA_MERGEABLE; }

static int apply_one(struct rsys *rs, const struct fr_vma *v, char *err, size_t errlen)
{
	uint64_t len = v->end - v->start;
	for (size_t i = 0; i < sizeof(advices) / sizeof(advices[0]); i++) {
		if (!(v->attrs & advices[i].attr))
			continue;
		long e = rsys(rs, SYS_madvise, v->start, len, (uint64_t)advices[i].advice, 0, 0, 0);
		if (e == -EINVAL && optional(advices[i].attr)) {
			pr_warn("mapping %llx-%llx: %s is not available here", (unsigned long long)v->start,
				(unsigned long long)v->end, advices[i].name);
		} else if (e < 0) {
			snprintf(err, errlen, "cannot set %s on mapping %llx-%llx again: %s", advices[i].name,
				 (unsigned long long)v->start, (unsigned long long)v->end, strerror((int)-e));
			return (int)e;
		}
	}
	if (v->attrs & FR_VMA_LOCKED) {
		uint64_t flags = (v->attrs & FR_VMA_LOCKONFAULT) ? MLOCK_ONFAULT : 0;
		long e = rsys(rs, SYS_mlock2, v->start, len, flags, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot lock mapping %llx-%llx again%s: %s", (unsigned long long)v->start,
				 (unsigned long long)v->end, flags ? " (on fault)" : "", strerror((int)-e));
			return (int)e;
		}
	}
	return 0;
}

int mm_apply_attrs(struct rsys *rs, const struct fr_image *img, char *err, size_t errlen)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		if (!img->vmas[i].attrs)
			continue;
		int e = apply_one(rs, &img->vmas[i], err, errlen);
		if (e < 0)
			return e;
		n++;
	}
	if (n)
		pr_debug("mlock / madvise attributes set again on %u mapping(s)", n);
	return 0;
}
