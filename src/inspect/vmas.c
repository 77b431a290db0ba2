/* vmas.c — the mappings of a frozen process, classified into what restore
 * knows how to rebuild (enum fr_vma_kind); anything else is refused with
 * its address range and kind. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "capture.h"
#include "proc.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Does any process other than pid map the shmem object (dev, ino)? */
static bool shmem_mapped_elsewhere(pid_t pid, const struct proc_map *m)
{
	DIR *d = opendir("/proc");
	if (!d)
		return true; /* cannot prove it is private: refuse */
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		pid_t other = atoi(de->d_name);
		if (other <= 0 || other == pid)
			continue;
		struct proc_map *maps;
		size_t n;
		if (proc_read_maps(other, &maps, &n) < 0)
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = maps[i].shared && maps[i].ino == m->ino && maps[i].dev_major == m->dev_major &&
				maps[i].dev_minor == m->dev_minor;
		free(maps);
	}
	closedir(d);
	return found;
}

static int refuse(char *err, size_t errlen, const struct proc_map *m, const char *what)
{
	snprintf(err, errlen, "mapping %llx-%llx (%s) is %s: ferry cannot restore it yet",
		 (unsigned long long)m->start, (unsigned long long)m->end, m->name[0] ? m->name : "anonymous", what);
	return -EOPNOTSUPP;
}

static int classify(pid_t pid, const struct proc_map *m, struct fr_vma *v, char *err, size_t errlen)
{
	*v = (struct fr_vma){.start = m->start, .end = m->end, .prot = m->prot,
			     .flags = m->shared ? MAP_SHARED : MAP_PRIVATE, .pgoff = m->pgoff};
	const char *name = m->name;
	if (strcmp(name, "[vdso]") == 0)
		v->kind = VMA_VDSO;
	else if (strcmp(name, "[vvar]") == 0)
		v->kind = VMA_VVAR;
	else if (strcmp(name, "[vvar_vclock]") == 0)
		v->kind = VMA_VVAR_VCLOCK;
	else if (m->shared && (strcmp(name, "/dev/zero (deleted)") == 0 || strncmp(name, "[anon_shmem:", 12) == 0)) {
		if (shmem_mapped_elsewhere(pid, m))
			return refuse(err, errlen, m, "shared anonymous memory also mapped by another process");
		v->kind = VMA_SHARED_ANON; /* pgoff: where this piece starts in its shmem object */
	} else if (!m->shared && (name[0] == '\0' || strcmp(name, "[heap]") == 0 || strcmp(name, "[stack]") == 0 ||
				  strncmp(name, "[anon:", 6) == 0)) {
		v->kind = VMA_ANON;
		v->pgoff = 0;
		if (strcmp(name, "[stack]") == 0)
			v->flags |= MAP_GROWSDOWN;
	} else if (name[0] == '/') {
		if (strncmp(name, "/SYSV", 5) == 0) { /* its inode number is the segment's id */
			if (!m->shared || m->ino > (uint64_t)INT32_MAX)
				return refuse(err, errlen, m, "System V shared memory ferry cannot read");
			v->kind = VMA_SYSV_SHM;
			v->object = (uint32_t)m->ino + 1;
			v->path = strdup(name); /* for messages */
			return v->path ? 0 : -ENOMEM; /* capture_sysv_shm checks and records its segment */
		}
		char link[96];
		snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)m->start,
			 (unsigned long long)m->end);
		struct stat st;
		int sr = stat(link, &st) < 0 ? neg_errno() : 0;
		if (sr == -ENOENT) {
			snprintf(err, errlen, "mapping %llx-%llx (%s) vanished while it was read",
				 (unsigned long long)m->start, (unsigned long long)m->end, name);
			return -ENOENT;
		}
		if (sr < 0 || !S_ISREG(st.st_mode))
			return refuse(err, errlen, m, "a mapping of something other than a regular file");
		v->kind = m->shared ? VMA_FILE_SHARED : VMA_FILE_PRIVATE;
		char target[4096]; /* the exact path: maps escapes some characters */
		ssize_t tl = readlink(link, target, sizeof(target) - 1);
		if (tl <= 0)
			return refuse(err, errlen, m, "a file mapping whose path cannot be read");
		target[tl] = '\0';
		v->path = strdup(target);
		if (!v->path)
			return -ENOMEM;
		if (ends_with(target, " (deleted)")) /* a memfd or deleted file: its record comes later */
			v->object = FR_VMA_OBJECT_UNRESOLVED;
	} else if (strcmp(name, "[vsyscall]") == 0) {
		return 1; /* fixed kernel page, the same everywhere: skip */
	} else {
		return refuse(err, errlen, m, m->shared ? "a shared special mapping" : "a special mapping");
	}
	return 0;
}

int capture_vmas(pid_t pid, bool live, struct fr_image *img, char *err, size_t errlen)
{
	struct proc_map *maps;
	size_t n;
	int r = proc_read_maps(pid, &maps, &n);
	if (r < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", pid, strerror(-r));
		return r;
	}
	img->vmas = calloc(n ? n : 1, sizeof(*img->vmas));
	if (!img->vmas) {
		free(maps);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r = classify(pid, &maps[i], &img->vmas[img->nvmas], err, errlen);
		if (r == -ENOENT && live) /* unmapped meanwhile: the running process moved on */
			continue;
		if (r < 0)
			break;
		if (r == 0)
			img->nvmas++;
		r = 0;
	}
	free(maps);
	return r;
}
