/* proctable.c — see proctable.h. One pass over /proc reads each process's
 * stat line (name, state, parent, threads, RSS) and owner; the trees are
 * linked by parent pid with a binary search in the pid-sorted table. */
#include "proctable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../inspect/capture.h"
#include "../inspect/precheck.h"
#include "../inspect/proc.h"
#include "json.h"

#define COMM_MAX 64 /* TASK_COMM_LEN is 16; kernel threads' names may be longer via stat */

struct proc_row {
	pid_t pid, ppid;
	char state;
	char name[COMM_MAX];
	long threads;
	uint64_t rss_kb;
	uid_t uid;
};

/* /proc/PID/stat: "pid (comm) state ppid ... num_threads(20) ... rss(24)";
 * comm may hold spaces and parentheses, so it ends at the last ')'. */
static int read_row(pid_t pid, struct proc_row *row)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	struct stat st;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || fstat(fd, &st) < 0)
		return -ESRCH;
	buf[n] = '\0';
	char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EIO;
	*row = (struct proc_row){.pid = pid, .uid = st.st_uid};
	snprintf(row->name, sizeof(row->name), "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
	unsigned long long rss_pages = 0;
	/* fields after comm: state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
	 * stime cutime cstime priority nice num_threads(20) itrealvalue starttime vsize rss(24) */
	if (sscanf(close_paren + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d %*u %*u %llu",
		   &row->state, &row->ppid, &row->threads, &rss_pages) != 4)
		return -EIO;
	row->rss_kb = rss_pages * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc_row *)a)->pid, y = ((const struct proc_row *)b)->pid;
	return (x > y) - (x < y);
}

/* Every process in /proc, sorted by pid. */
static int read_table(struct proc_row **rows, size_t *n)
{
	*rows = NULL, *n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return neg_errno();
	size_t cap = 0;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 512;
			struct proc_row *nr = realloc(*rows, cap * sizeof(*nr));
			if (!nr) {
				r = -ENOMEM;
				break;
			}
			*rows = nr;
		}
		if (read_row((pid_t)pid, &(*rows)[*n]) == 0) /* gone meanwhile: skipped */
			(*n)++;
	}
	closedir(d);
	if (r < 0) {
		free(*rows);
		*rows = NULL, *n = 0;
		return r;
	}
	qsort(*rows, *n, sizeof(**rows), by_pid);
	return 0;
}

static const struct proc_row *find_row(const struct proc_row *rows, size_t n, pid_t pid)
{
	struct proc_row key = {.pid = pid};
	return bsearch(&key, rows, n, sizeof(*rows), by_pid);
}

/* User names, looked up once per uid per request. */
struct user_cache {
	uid_t uid[32];
	char name[32][64];
	size_t n;
};

static const char *user_name(struct user_cache *uc, uid_t uid)
{
	for (size_t i = 0; i < uc->n; i++)
		if (uc->uid[i] == uid)
			return uc->name[i];
	size_t slot = uc->n < ARRAY_SIZE(uc->uid) ? uc->n++ : ARRAY_SIZE(uc->uid) - 1;
	struct passwd pw, *found = NULL;
	char buf[1024];
	uc->uid[slot] = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(uc->name[slot], sizeof(uc->name[slot]), "%s", found->pw_name);
	else
		snprintf(uc->name[slot], sizeof(uc->name[slot]), "%u", (unsigned)uid);
	return uc->name[slot];
}

static json_t *row_json(const struct proc_row *r, struct user_cache *uc)
{
	char state[2] = {r->state, '\0'};
	return json_pack("{s:i, s:i, s:o, s:s, s:I, s:I, s:o}", "pid", (int)r->pid, "ppid", (int)r->ppid, "name",
			 ui_json_text(r->name), "state", state, "threads", (json_int_t)r->threads, "rss_kb",
			 (json_int_t)r->rss_kb, "user", ui_json_text(user_name(uc, r->uid)));
}

static void host_name(char *out, size_t len)
{
	if (gethostname(out, len) < 0)
		snprintf(out, len, "?");
	out[len - 1] = '\0';
}

json_t *proctable_tree(char *err, size_t errlen)
{
	struct proc_row *rows;
	size_t n;
	int r = read_table(&rows, &n);
	if (r < 0) {
		snprintf(err, errlen, "cannot list the processes in /proc: %s", strerror(-r));
		return NULL;
	}
	struct user_cache uc = {0};
	json_t **nodes = calloc(n ? n : 1, sizeof(*nodes));
	json_t *roots = json_array();
	bool ok = nodes && roots;
	for (size_t i = 0; ok && i < n; i++) {
		json_t *kids = json_array();
		ok = (nodes[i] = row_json(&rows[i], &uc)) && kids && json_object_set_new(nodes[i], "children", kids) == 0;
	}
	for (size_t i = 0; ok && i < n; i++) { /* in pid order: each parent's children come sorted */
		const struct proc_row *parent = rows[i].ppid > 0 ? find_row(rows, n, rows[i].ppid) : NULL;
		json_t *into = parent ? json_object_get(nodes[parent - rows], "children") : roots;
		ok = json_array_append(into, nodes[i]) == 0;
	}
	char host[256];
	host_name(host, sizeof(host));
	json_t *out = ok ? json_pack("{s:o, s:I, s:O}", "host", ui_json_text(host), "count", (json_int_t)n, "processes",
				     roots)
			 : NULL;
	for (size_t i = 0; nodes && i < n; i++)
		json_decref(nodes[i]);
	free(nodes);
	json_decref(roots);
	free(rows);
	if (!out)
		snprintf(err, errlen, "out of memory while listing %zu processes", n);
	return out;
}

/* The command line: its NUL-separated words. */
static json_t *cmdline_json(pid_t pid)
{
	char path[64], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	json_t *words = json_array();
	if (!words || read_small_file(path, &text, &len) < 0)
		return words;
	for (size_t at = 0; at < len; at += strlen(text + at) + 1)
		json_array_append_new(words, ui_json_text(text + at));
	free(text);
	return words;
}

static int by_fd(const void *a, const void *b)
{
	int x = json_integer_value(json_object_get(*(json_t *const *)a, "fd"));
	int y = json_integer_value(json_object_get(*(json_t *const *)b, "fd"));
	return (x > y) - (x < y);
}

/* [{"fd":N,"target":"/path" or "pipe:[123]"}], in fd order; *total counts all. */
static json_t *fds_json(pid_t pid, size_t *total)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	*total = 0;
	json_t *fds = json_array();
	DIR *d = opendir(dir);
	if (!d || !fds)
		return d ? (closedir(d), fds) : fds;
	json_t *list[PROCTABLE_FDS_MAX];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		(*total)++;
		char target[PATH_MAX];
		ssize_t tl = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n == PROCTABLE_FDS_MAX || tl < 0)
			continue;
		target[tl] = '\0';
		list[n++] = json_pack("{s:i, s:o}", "fd", atoi(e->d_name), "target", ui_json_text(target));
	}
	closedir(d);
	qsort(list, n, sizeof(list[0]), by_fd);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(fds, list[i]);
	return fds;
}

/* [{"start":"7f..","end":"7f..","perms":"rw-p","path":...}]; *total counts all. */
static json_t *maps_json(pid_t pid, size_t *total)
{
	struct proc_map *maps = NULL;
	*total = 0;
	json_t *out = json_array();
	if (!out || proc_read_maps(pid, &maps, total) < 0)
		return out;
	for (size_t i = 0; i < *total && i < PROCTABLE_MAPS_MAX; i++) {
		const struct proc_map *m = &maps[i];
		char start[24], end[24], perms[5] = {m->prot & PROT_READ ? 'r' : '-', m->prot & PROT_WRITE ? 'w' : '-',
						     m->prot & PROT_EXEC ? 'x' : '-', m->shared ? 's' : 'p', '\0'};
		snprintf(start, sizeof(start), "%llx", (unsigned long long)m->start);
		snprintf(end, sizeof(end), "%llx", (unsigned long long)m->end);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I, s:o}", "start", start, "end", end, "perms",
						     perms, "kb", (json_int_t)((m->end - m->start) / 1024), "path",
						     ui_json_text(m->name)));
	}
	free(maps);
	return out;
}

/* The process's children, from the same table as the trees. */
static json_t *children_json(pid_t pid)
{
	struct proc_row *rows;
	size_t n;
	json_t *kids = json_array();
	if (!kids || read_table(&rows, &n) < 0)
		return kids;
	for (size_t i = 0; i < n; i++)
		if (rows[i].ppid == pid)
			json_array_append_new(kids, json_integer(rows[i].pid));
	free(rows);
	return kids;
}

int proctable_details(pid_t pid, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	struct proc_row row;
	if (read_row(pid, &row) < 0) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return -ESRCH;
	}
	struct user_cache uc = {0};
	json_t *d = row_json(&row, &uc);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char path[64], exe[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	ssize_t el = readlink(path, exe, sizeof(exe) - 1);
	if (el >= 0)
		exe[el] = '\0';
	size_t nfds, nmaps;
	json_object_set_new(d, "uid", json_integer(row.uid));
	json_object_set_new(d, "exe", el >= 0 ? ui_json_text(exe) : json_null());
	json_object_set_new(d, "cmdline", cmdline_json(pid));
	json_object_set_new(d, "children", children_json(pid));
	json_object_set_new(d, "fds", fds_json(pid, &nfds));
	json_object_set_new(d, "fd_count", json_integer((json_int_t)nfds));
	json_object_set_new(d, "mappings", maps_json(pid, &nmaps));
	json_object_set_new(d, "mapping_count", json_integer((json_int_t)nmaps));
	/* ferry's own verdict: the precheck `ferry send` runs before anything */
	char why[1024] = "";
	struct capture_opts co = {.shell_job = false};
	int r = precheck_process(pid, &co, NULL, why, sizeof(why));
	if (r < 0 && !why[0])
		snprintf(why, sizeof(why), "pid %d: %s", pid, strerror(-r));
	json_object_set_new(d, "movable", json_boolean(r == 0));
	json_object_set_new(d, "refusal", r == 0 ? json_null() : ui_json_text(why));
	*out = d;
	return 0;
}
