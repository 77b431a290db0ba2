/* proc.c — /proc parsers (see proc.h). */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../common/util.h"

int parse_maps_line(const char *line, struct proc_map *m)
{
	char perms[5];
	int name_at = 0;
	unsigned long long start, end, off, ino;
	unsigned maj, min;
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min, &ino,
		   &name_at) < 7)
		return -EINVAL;
	*m = (struct proc_map){.start = start, .end = end, .pgoff = off, .dev_major = maj, .dev_minor = min,
			       .ino = ino};
	if (strlen(perms) != 4)
		return -EINVAL;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	const char *name = line + name_at;
	size_t n = strcspn(name, "\n");
	if (n >= sizeof(m->name))
		return -ENAMETOOLONG;
	memcpy(m->name, name, n);
	m->name[n] = '\0';
	return 0;
}

int parse_stat(const char *text, struct proc_stat *st)
{
	const char *p = strrchr(text, ')'); /* comm may contain spaces and parentheses */
	if (!p)
		return -EINVAL;
	p++;
	/* Fields from 3 (state) on; we index them by their number in proc(5). */
	enum { NF = 53 };
	unsigned long long f[NF] = {0};
	char state = 0;
	int consumed = 0;
	if (sscanf(p, " %c%n", &state, &consumed) != 1)
		return -EINVAL;
	p += consumed;
	int idx = 4;
	while (idx < NF) {
		char *endp;
		errno = 0;
		long long v = strtoll(p, &endp, 10);
		if (endp == p)
			break;
		f[idx++] = (unsigned long long)v;
		p = endp;
	}
	if (idx < 52)
		return -EINVAL;
	*st = (struct proc_stat){
		.state = state, .ppid = (int)f[4], .pgrp = (int)f[5], .session = (int)f[6],
		.nice = (int)(long long)f[19], .rt_priority = (int)f[40], .policy = (int)f[41],
		.start_code = f[26], .end_code = f[27], .start_stack = f[28],
		.start_data = f[45], .end_data = f[46], .start_brk = f[47],
		.arg_start = f[48], .arg_end = f[49], .env_start = f[50], .env_end = f[51],
	};
	return 0;
}

static const char *status_field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ':')
			return p + kl + 1;
	return NULL;
}

int parse_status(const char *text, struct proc_status *st)
{
	*st = (struct proc_status){.thp_enabled = 1};
	const char *v;
	if (!(v = status_field(text, "State")) || sscanf(v, " %c", &st->state) != 1)
		return -EINVAL;
	if (!(v = status_field(text, "TracerPid")) || sscanf(v, "%d", &st->tracer_pid) != 1)
		return -EINVAL;
	if (!(v = status_field(text, "Uid")) ||
	    sscanf(v, "%u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2], &st->uid[3]) != 4)
		return -EINVAL;
	if (!(v = status_field(text, "Gid")) ||
	    sscanf(v, "%u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2], &st->gid[3]) != 4)
		return -EINVAL;
	if ((v = status_field(text, "Umask")))
		sscanf(v, "%o", &st->umask);
	if ((v = status_field(text, "NoNewPrivs")))
		sscanf(v, "%d", &st->no_new_privs);
	if ((v = status_field(text, "THP_enabled")))
		sscanf(v, "%d", &st->thp_enabled);
	if ((v = status_field(text, "Threads")))
		sscanf(v, "%d", &st->threads);
	if ((v = status_field(text, "SigCgt")))
		sscanf(v, "%" SCNx64, &st->sig_caught);
	if ((v = status_field(text, "SigIgn")))
		sscanf(v, "%" SCNx64, &st->sig_ignored);
	if ((v = status_field(text, "Groups"))) {
		const char *end = strchr(v, '\n');
		char *e;
		for (;;) {
			unsigned long g = strtoul(v, &e, 10);
			if (e == v || (end && e > end))
				break;
			if (st->ngroups < ARRAY_SIZE(st->groups))
				st->groups[st->ngroups] = (uint32_t)g;
			st->ngroups++;
			v = e;
		}
	}
	return 0;
}

int parse_limits(const char *text, struct rlimit *rlim, int nlimits)
{
	/* Rows in resource order: "Max cpu time   unlimited   unlimited   seconds".
	 * The name column is 26 characters wide; values are numbers or "unlimited". */
	static const char *const names[] = {"Max cpu time", "Max file size", "Max data size", "Max stack size",
					    "Max core file size", "Max resident set", "Max processes",
					    "Max open files", "Max locked memory", "Max address space",
					    "Max file locks", "Max pending signals", "Max msgqueue size",
					    "Max nice priority", "Max realtime priority", "Max realtime timeout"};
	int found = 0;
	for (int i = 0; i < nlimits && i < (int)ARRAY_SIZE(names); i++) {
		const char *p = strstr(text, names[i]);
		if (!p)
			return -EINVAL;
		p += strlen(names[i]);
		rlim_t vals[2];
		for (int k = 0; k < 2; k++) {
			while (*p == ' ')
				p++;
			if (strncmp(p, "unlimited", 9) == 0) {
				vals[k] = RLIM_INFINITY;
				p += 9;
			} else {
				char *e;
				vals[k] = strtoull(p, &e, 10);
				if (e == p)
					return -EINVAL;
				p = e;
			}
		}
		rlim[i].rlim_cur = vals[0];
		rlim[i].rlim_max = vals[1];
		found++;
	}
	return found == nlimits ? 0 : -EINVAL;
}

int proc_read_maps(pid_t pid, struct proc_map **maps, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return neg_errno();
	size_t cap = 64, cnt = 0;
	struct proc_map *v = malloc(cap * sizeof(*v));
	char *line = NULL;
	size_t lcap = 0;
	int r = v ? 0 : -ENOMEM;
	while (r == 0 && getline(&line, &lcap, f) > 0) {
		if (cnt == cap) {
			struct proc_map *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap *= 2;
		}
		r = parse_maps_line(line, &v[cnt]);
		if (r == 0)
			cnt++;
	}
	free(line);
	fclose(f);
	if (r < 0) {
		free(v);
		return r;
	}
	*maps = v;
	*n = cnt;
	return 0;
}

int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *st)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	if (tid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int r = read_small_file(path, &text, NULL);
	return r < 0 ? r : parse_stat(text, st);
}

int proc_read_status(pid_t pid, struct proc_status *st)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	int r = read_small_file(path, &text, NULL);
	return r < 0 ? r : parse_status(text, st);
}

int proc_read_limits(pid_t pid, struct rlimit *rlim, int nlimits)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	int r = read_small_file(path, &text, NULL);
	return r < 0 ? r : parse_limits(text, rlim, nlimits);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int proc_list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return neg_errno();
	size_t cap = 16, cnt = 0;
	pid_t *v = malloc(cap * sizeof(*v));
	struct dirent *de;
	while (v && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (cnt == cap) {
			pid_t *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		v[cnt++] = atoi(de->d_name);
	}
	closedir(d);
	if (!v)
		return -ENOMEM;
	qsort(v, cnt, sizeof(*v), cmp_pid);
	*tids = v;
	*n = cnt;
	return 0;
}

bool proc_exists(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0;
}

#define DESCRIBE_CMDLINE_MAX 60 /* enough to recognise a command, short enough for one line */

void proc_describe(pid_t pid, char *out, size_t len)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (read_small_file(path, &text, &n) == 0 && n > 0) {
		while (n > 0 && text[n - 1] == '\0')
			n--;
		text[n] = '\0';
		/* argv[0] without its directory: the arguments say more. */
		char *slash = strrchr(text, '/'); /* stops at argv[0]'s NUL */
		char *cmd = slash ? slash + 1 : text;
		n -= (size_t)(cmd - text);
		for (size_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		if (n > DESCRIBE_CMDLINE_MAX)
			memcpy(cmd + DESCRIBE_CMDLINE_MAX - 3, "...", 4);
		snprintf(out, len, "%d (%s)", pid, cmd);
		return;
	}
	free(text);
	text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_small_file(path, &text, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(out, len, "%d ([%s])", pid, text);
	} else {
		snprintf(out, len, "%d", pid);
	}
}

static void kin_add(struct proc_kin_list *l, pid_t pid)
{
	if (l->n < PROC_KIN_NAMED)
		l->pid[l->n] = pid;
	l->n++;
}

int proc_find_kin(pid_t pid, bool want_mm, struct proc_kin *kin)
{
	*kin = (struct proc_kin){0};
	DIR *d = opendir("/proc");
	if (!d)
		return neg_errno();
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t other = atoi(de->d_name);
		if (other <= 0 || other == pid)
			continue;
		struct proc_stat st;
		if (proc_read_stat(other, 0, &st) < 0)
			continue; /* gone meanwhile (a zombie still counts: it holds its ids until reaped) */
		if (st.ppid == pid)
			kin_add(&kin->children, other);
		if (st.pgrp == pid)
			kin_add(&kin->group, other);
		if (st.session == pid)
			kin_add(&kin->session, other);
		if (want_mm && syscall(SYS_kcmp, pid, other, KCMP_VM, 0, 0) == 0)
			kin_add(&kin->shares_mm, other);
	}
	closedir(d);
	return 0;
}

int proc_descendants(pid_t pid, pid_t **out, size_t *n)
{
	*out = NULL, *n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return neg_errno();
	pid_t *all = NULL, *parent = NULL;
	size_t nall = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		pid_t other = atoi(de->d_name);
		struct proc_stat st;
		if (other <= 0 || other == pid || proc_read_stat(other, 0, &st) < 0)
			continue;
		if (nall == cap) {
			cap = cap ? cap * 2 : 64;
			pid_t *a = realloc(all, cap * sizeof(*a)), *p = a ? realloc(parent, cap * sizeof(*p)) : NULL;
			all = a ? a : all, parent = p ? p : parent;
			if (!a || !p) {
				r = -ENOMEM;
				break;
			}
		}
		all[nall] = other, parent[nall++] = st.ppid;
	}
	closedir(d);
	/* breadth first: pid's children, then each one's children in turn */
	pid_t *kin = r == 0 ? malloc((nall ? nall : 1) * sizeof(*kin)) : NULL;
	size_t nkin = 0;
	if (r == 0 && !kin)
		r = -ENOMEM;
	for (size_t q = 0; r == 0 && q <= nkin; q++) {
		pid_t of = q ? kin[q - 1] : pid;
		for (size_t i = 0; i < nall && nkin < nall; i++) /* bounded: ids read apart may loop */
			if (parent[i] == of)
				kin[nkin++] = all[i];
	}
	free(all);
	free(parent);
	if (r < 0) {
		free(kin);
		return r;
	}
	*out = kin, *n = nkin;
	return 0;
}

bool proc_is_zombie_or_gone(pid_t pid)
{
	struct proc_stat st;
	if (proc_read_stat(pid, 0, &st) < 0)
		return true;
	return st.state == 'Z' || st.state == 'X';
}
