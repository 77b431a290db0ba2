/* vma_attrs.c — what mlock and madvise set on each mapping of a frozen
 * process, from the VmFlags lines of /proc/PID/smaps (the only place the
 * kernel shows them): locked (lo), on fault (lf), MADV_DONTFORK (dc),
 * DONTDUMP (dd), WIPEONFORK (wf), HUGEPAGE (hg), NOHUGEPAGE (nh),
 * MERGEABLE (mg), SEQUENTIAL (sr), RANDOM (rr). Reading smaps walks the
 * page tables, so it is done once, on the frozen process only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "capture.h"

static const struct {
	char name[3];
	uint32_t attr;
} vmflags[] = {
	{"lo", FR_VMA_LOCKED},	  {"lf", FR_VMA_LOCKONFAULT}, {"dc", FR_VMA_DONTFORK},
	{"dd", FR_VMA_DONTDUMP},  {"wf", FR_VMA_WIPEONFORK},  {"hg", FR_VMA_HUGEPAGE},
	{"nh", FR_VMA_NOHUGEPAGE}, {"mg", FR_VMA_MERGEABLE},  {"sr", FR_VMA_SEQUENTIAL},
	{"rr", FR_VMA_RANDOM},
};

static uint32_t parse_vmflags(const char *line)
{
	uint32_t attrs = 0;
	for (const char *p = line + strlen("VmFlags:"); *p;) {
		while (*p == ' ')
			p++;
		for (size_t i = 0; i < ARRAY_SIZE(vmflags); i++)
			if (strncmp(p, vmflags[i].name, 2) == 0 && (p[2] == ' ' || p[2] == '\n' || !p[2]))
				attrs |= vmflags[i].attr;
		while (*p && *p != ' ')
			p++;
	}
	return attrs;
}

static int by_start(const void *key, const void *elem)
{
	uint64_t addr = *(const uint64_t *)key, start = ((const struct fr_vma *)elem)->start;
	return (addr > start) - (addr < start);
}

int capture_vma_attrs(pid_t pid, struct fr_image *img, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return neg_errno();
	}
	char *line = NULL;
	size_t cap = 0;
	struct fr_vma *cur = NULL;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long start, end;
		if (strncmp(line, "VmFlags:", 8) == 0) {
			uint32_t attrs = parse_vmflags(line);
			if (cur && cur->kind < VMA_VDSO) /* not [vdso] and friends */
				cur->attrs = attrs;
		} else if (sscanf(line, "%llx-%llx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			uint64_t key = start;
			cur = bsearch(&key, img->vmas, img->nvmas, sizeof(*img->vmas), by_start); /* sorted by start */
			if (cur && cur->end != end)
				cur = NULL;
		}
	}
	free(line);
	fclose(f);
	return 0;
}
