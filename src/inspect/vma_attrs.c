/* vma_attrs.c — what mlock and madvise set on each mapping of a process,
 * from the VmFlags lines of /proc/PID/smaps (the only place the kernel
 * shows them): locked (lo), on fault (lf), MADV_DONTFORK (dc), DONTDUMP
 * (dd), WIPEONFORK (wf), HUGEPAGE (hg), NOHUGEPAGE (nh), MERGEABLE (mg),
 * SEQUENTIAL (sr), RANDOM (rr).
 * Reading smaps walks every page table (the kernel counts Rss and the
 * rest): about 6 ms per GiB present. A migration reads it before the
 * freeze; frozen, it takes those attributes if /proc/PID/maps (cheap) is
 * still the layout they were read with, and reads smaps again in a thread
 * while the stream goes out, to prove they still hold: an mlock or madvise
 * of a whole mapping changes no maps line. The caller waits for that proof
 * before the commit point (vma_attrs_check_end). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
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

static void parse_vmflags(const char *line, struct vma_attr *a)
{
	for (const char *p = line + strlen("VmFlags:"); *p;) {
		while (*p == ' ')
			p++;
		bool two = p[0] && p[1] && (p[2] == ' ' || p[2] == '\n' || !p[2]);
		for (size_t i = 0; two && i < ARRAY_SIZE(vmflags); i++)
			if (strncmp(p, vmflags[i].name, 2) == 0)
				a->attrs |= vmflags[i].attr;
		if (two && strncmp(p, "um", 2) == 0)
			a->uffd_missing = true;
		while (*p && *p != ' ')
			p++;
	}
}

void vma_attrs_free(struct vma_attr_list *l)
{
	free(l->v);
	free(l->layout);
	*l = (struct vma_attr_list){0};
}

static int attr_push(struct vma_attr_list *l, size_t *cap, uint64_t start, uint64_t end)
{
	if (l->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct vma_attr *v = realloc(l->v, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v, *cap = c;
	}
	l->v[l->n++] = (struct vma_attr){.start = start, .end = end};
	return 0;
}

int vma_attrs_read(pid_t pid, struct vma_attr_list *out)
{
	*out = (struct vma_attr_list){0};
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return neg_errno();
	FILE *layout = open_memstream(&out->layout, &out->layout_len);
	char *line = NULL;
	size_t cap = 0, vcap = 0;
	int r = layout ? 0 : -ENOMEM;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		unsigned long long start, end;
		if (strncmp(line, "VmFlags:", 8) == 0) {
			if (out->n)
				parse_vmflags(line, &out->v[out->n - 1]);
		} else if (sscanf(line, "%llx-%llx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			/* a mapping's first line: its /proc/PID/maps line */
			r = attr_push(out, &vcap, start, end);
			if (r == 0 && fputs(line, layout) == EOF)
				r = -ENOMEM;
		}
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	if (layout && fclose(layout) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0)
		vma_attrs_free(out);
	return r;
}

static int by_start(const void *key, const void *elem)
{
	uint64_t addr = *(const uint64_t *)key, start = ((const struct fr_vma *)elem)->start;
	return (addr > start) - (addr < start);
}

/* img's mappings (sorted by start) take the attributes of l's. */
static void attrs_apply(const struct vma_attr_list *l, struct fr_image *img)
{
	for (size_t i = 0; i < l->n; i++) {
		struct fr_vma *v = bsearch(&l->v[i].start, img->vmas, img->nvmas, sizeof(*img->vmas), by_start);
		if (v && v->end == l->v[i].end && v->kind < VMA_VDSO) /* not [vdso] and friends */
			v->attrs = l->v[i].attrs;
	}
}

int capture_vma_attrs(pid_t pid, struct fr_image *img, char *err, size_t errlen)
{
	struct vma_attr_list l;
	int r = vma_attrs_read(pid, &l);
	if (r < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/smaps: %s", pid, strerror(-r));
		return r;
	}
	attrs_apply(&l, img);
	vma_attrs_free(&l);
	return 0;
}

static bool same_layout(const struct vma_attr_list *a, const char *maps, size_t len)
{
	return a->layout_len == len && memcmp(a->layout, maps, len) == 0;
}

struct vma_attrs_check {
	pthread_t thread;
	pid_t pid;
	struct vma_attr_list early;
	int result; /* 0: the attributes hold; -ESTALE: they changed; else reading failed */
};

static void *check_main(void *arg)
{
	struct vma_attrs_check *c = arg;
	struct vma_attr_list now;
	c->result = vma_attrs_read(c->pid, &now);
	bool same = c->result == 0 && now.n == c->early.n && same_layout(&c->early, now.layout, now.layout_len);
	for (size_t i = 0; same && i < now.n; i++)
		same = now.v[i].start == c->early.v[i].start && now.v[i].end == c->early.v[i].end &&
		       now.v[i].attrs == c->early.v[i].attrs;
	if (c->result == 0 && !same)
		c->result = -ESTALE;
	vma_attrs_free(&now);
	return NULL;
}

int capture_vma_attrs_early(pid_t pid, struct vma_attr_list *early, struct fr_image *img,
			    struct vma_attrs_check **check, char *err, size_t errlen)
{
	*check = NULL;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	_cleanup_free_ char *maps = NULL;
	size_t len = 0;
	int r = read_small_file(path, &maps, &len);
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	struct vma_attrs_check *c = NULL;
	if (same_layout(early, maps, len) && (c = calloc(1, sizeof(*c)))) {
		*c = (struct vma_attrs_check){.pid = pid, .early = *early};
		if (pthread_create(&c->thread, NULL, check_main, c) == 0) {
			*early = (struct vma_attr_list){0}; /* the check owns it now */
			attrs_apply(&c->early, img);
			*check = c;
			return 0;
		}
		free(c);
	}
	pr_debug("the layout of pid %d changed since its attributes were read: reading them again", pid);
	vma_attrs_free(early);
	return capture_vma_attrs(pid, img, err, errlen);
}

int vma_attrs_check_end(struct vma_attrs_check *c, char *err, size_t errlen)
{
	pthread_join(c->thread, NULL);
	int r = c->result;
	if (r == -ESTALE)
		snprintf(err, errlen, "pid %d changed the attributes of its mappings (mlock or madvise) as it was frozen",
			 c->pid);
	else if (r < 0)
		snprintf(err, errlen, "cannot read /proc/%d/smaps: %s", c->pid, strerror(-r));
	vma_attrs_free(&c->early);
	free(c);
	return r;
}
