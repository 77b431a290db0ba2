/* files.c — the fd table of a frozen process: kind, path, flags, offset,
 * close-on-exec, an eventfd's counter and mode, and which fds share one
 * open file description (kcmp). The other anonymous-inode objects (epoll,
 * timerfd, signalfd, inotify) are read by their own files (fd_kinds.h).
 * Pipes, FIFOs and sockets are described by fd_pipe.c, fd_unix.c and
 * fd_inet.c (fdobj.h); an fd the user declared external (--external fd:N)
 * is recorded by its number and /proc link only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "../common/util.h"
#include "capture.h"
#include "fd_kinds.h"
#include "fdobj.h"

#define TTY_MAJOR_VT 4
#define TTY_MAJOR_AUX 5
#define PTS_MAJOR_FIRST 136 /* UNIX98 pty slaves use majors 136..143 */
#define PTS_MAJOR_LAST 143

struct fd_key {
	dev_t dev;
	ino_t ino;
};

static bool is_tty(dev_t rdev)
{
	unsigned maj = major(rdev);
	return maj == TTY_MAJOR_VT || maj == TTY_MAJOR_AUX || (maj >= PTS_MAJOR_FIRST && maj <= PTS_MAJOR_LAST);
}

/* An epoll set that watches the refused fd is named too: it could not be
 * restored without it. */
static int refuse_fd(pid_t pid, char *err, size_t errlen, int fd, const char *link, const char *what)
{
	int efd = fd_epoll_watcher_of(pid, fd);
	char watched[48] = "";
	if (efd >= 0)
		snprintf(watched, sizeof(watched), " watched by epoll fd %d", efd);
	snprintf(err, errlen, "fd %d (%s) is %s%s: ferry cannot restore it yet", fd, link, what, watched);
	return -EOPNOTSUPP;
}

/* /proc/PID/fdinfo/FD: pos and flags; *text keeps the whole of it for the
 * fields of one kind (the caller frees it). */
static int read_fdinfo(pid_t pid, int fd, int64_t *pos, uint32_t *flags, char **text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	int r = read_small_file(path, text, NULL);
	if (r < 0)
		return r;
	long long p;
	unsigned f;
	const char *ps = strstr(*text, "pos:"), *fs = strstr(*text, "flags:");
	if (!ps || !fs || sscanf(ps, "pos: %lld", &p) != 1 || sscanf(fs, "flags: %o", &f) != 1)
		return -EINVAL;
	*pos = p;
	*flags = f;
	return 0;
}

/* The inode the fd's /proc link leads to: fds on one inode may share a
 * description (kcmp decides). */
static int fd_key_of(const char *proc_path, int fd, const char *link, struct fd_key *key, struct stat *st, char *err,
		     size_t errlen)
{
	if (stat(proc_path, st) < 0) {
		snprintf(err, errlen, "cannot stat fd %d (%s): %s", fd, link, strerror(errno));
		return neg_errno();
	}
	key->dev = st->st_dev;
	key->ino = st->st_ino;
	return 0;
}

/* An eventfd: its counter and semaphore mode, from fdinfo. */
static int describe_eventfd(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen)
{
	const char *cs = strstr(info, "eventfd-count:"), *ss = strstr(info, "eventfd-semaphore:");
	unsigned long long count;
	unsigned sem = 0;
	if (!cs || sscanf(cs, "eventfd-count: %llx", &count) != 1 || (ss && sscanf(ss, "eventfd-semaphore: %u", &sem) != 1)) {
		snprintf(err, errlen, "cannot read the counter of eventfd %d from its fdinfo", fd);
		return -EINVAL;
	}
	f->kind = FILE_EVENTFD;
	f->value = count;
	f->kind_flags = sem ? EFD_SEMAPHORE : 0;
	f->pos = 0;
	return 0;
}

/* The anonymous-inode objects ferry restores, by the link of their fd. */
static const struct anon_kind {
	const char *link;
	fd_describe_fn *describe;
} anon_kinds[] = {
	{"anon_inode:[eventfd]", describe_eventfd},
	{"anon_inode:[eventpoll]", fd_epoll_describe},
	{"anon_inode:[timerfd]", fd_timerfd_describe},
	{"anon_inode:[signalfd]", fd_signalfd_describe},
	{"anon_inode:inotify", fd_inotify_describe},
};

/* Objects of one kind share one anonymous inode, so kcmp tells dups from
 * distinct ones. */
static int describe_anon(pid_t pid, int fd, const char *info, const char *proc_path, const char *link,
			 const struct anon_kind *k, struct fr_file *f, struct fd_key *key, char *err, size_t errlen)
{
	struct stat st;
	int r = fd_key_of(proc_path, fd, link, key, &st, err, errlen);
	if (r == 0)
		r = k->describe(pid, fd, info, f, err, errlen);
	if (r == 0 && !(f->path = strdup(link)))
		r = -ENOMEM;
	return r;
}

static bool is_external(const struct capture_opts *opts, int fd)
{
	for (size_t i = 0; i < opts->nexternal; i++)
		if (opts->external[i] == fd)
			return true;
	return false;
}

static int describe_fd(struct fd_scan *sc, int fd, const struct capture_opts *opts, struct fr_file *f,
		       struct fd_key *key, char *err, size_t errlen)
{
	pid_t pid = sc->pid;
	char path[64], link[4096];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return neg_errno();
	link[n] = '\0';
	*f = (struct fr_file){.fd = fd, .share_of = -1};
	_cleanup_free_ char *info = NULL;
	int r = read_fdinfo(pid, fd, &f->pos, &f->flags, &info);
	if (r < 0) {
		snprintf(err, errlen, "cannot read fdinfo of fd %d: %s", fd, strerror(-r));
		return r;
	}
	f->cloexec = (f->flags & O_CLOEXEC) != 0;
	f->flags &= ~(uint32_t)O_CLOEXEC;

	struct stat st;
	bool sock = strncmp(link, "socket:", 7) == 0, pipe = strncmp(link, "pipe:", 5) == 0;
	if (is_external(opts, fd) || sock || pipe) {
		if ((r = fd_key_of(path, fd, link, key, &st, err, errlen)) < 0 || !(f->path = strdup(link)))
			return r < 0 ? r : -ENOMEM;
		if (is_external(opts, fd)) {
			f->kind = FILE_EXTERNAL;
			f->pos = 0;
			return 0;
		}
		return sock ? fd_sock_describe(sc, f, st.st_ino, err, errlen) : fd_pipe_describe(f, false, st.st_ino);
	}
	for (size_t i = 0; i < ARRAY_SIZE(anon_kinds); i++)
		if (strcmp(link, anon_kinds[i].link) == 0)
			return describe_anon(pid, fd, info, path, link, &anon_kinds[i], f, key, err, errlen);
	if (strncmp(link, "anon_inode:", 11) == 0)
		return refuse_fd(pid, err, errlen, fd, link, "an anonymous-inode object");
	if (link[0] != '/')
		return refuse_fd(pid, err, errlen, fd, link, "not reachable by a path");

	if ((r = fd_key_of(path, fd, link, key, &st, err, errlen)) < 0)
		return r;
	bool deleted = n > 10 && strcmp(link + n - 10, " (deleted)") == 0;
	if (strncmp(link, "/memfd:", 7) == 0 && deleted) {
		if ((r = fd_memfd_describe(pid, fd, link, !opts->checks_only, f, err, errlen)) == 0 &&
		    !(f->path = strdup(link)))
			r = -ENOMEM;
		return r;
	}
	if (deleted)
		return fd_ghost_describe(pid, fd, link, opts->ghost_limit, !opts->checks_only, f, err, errlen);

	if (f->flags & O_PATH)
		f->kind = FILE_PATH;
	else if (S_ISREG(st.st_mode))
		f->kind = FILE_REG;
	else if (S_ISDIR(st.st_mode))
		f->kind = FILE_DIR;
	else if (S_ISCHR(st.st_mode) && is_tty(st.st_rdev)) {
		if (!opts->shell_job) {
			snprintf(err, errlen, "fd %d is a terminal (%s); pass --shell-job to reattach it on restore", fd,
				 link);
			return -EOPNOTSUPP;
		}
		f->kind = FILE_TTY;
	} else if (S_ISCHR(st.st_mode))
		f->kind = FILE_CHR;
	else if (S_ISFIFO(st.st_mode))
		r = fd_pipe_describe(f, true, st.st_ino);
	else
		return refuse_fd(pid, err, errlen, fd, link, "a device or special file");
	if (r < 0)
		return r;
	f->path = strdup(link);
	return f->path ? 0 : -ENOMEM;
}

static void free_files(struct fr_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fr_file_free(&files[i]);
	free(files);
}

int capture_files(pid_t pid, const struct capture_opts *opts, struct fr_image *img, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "cannot list /proc/%d/fd: %s", pid, strerror(errno));
		return neg_errno();
	}
	struct fd_scan sc = {.pid = pid, .pidfd = -1, .diag = -1};
	size_t cap = 16;
	struct fr_file *files = calloc(cap, sizeof(*files));
	struct fd_key *keys = calloc(cap, sizeof(*keys));
	int r = files && keys ? 0 : -ENOMEM;
	size_t n = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap *= 2;
			struct fr_file *nf = realloc(files, cap * sizeof(*files));
			struct fd_key *nk = nf ? realloc(keys, cap * sizeof(*keys)) : NULL;
			if (nf)
				files = nf;
			if (nk)
				keys = nk;
			if (!nf || !nk) {
				r = -ENOMEM;
				break;
			}
		}
		r = describe_fd(&sc, atoi(de->d_name), opts, &files[n], &keys[n], err, errlen);
		if (r == 0) {
			n++;
			continue;
		}
		fr_file_free(&files[n]);
		if (r == -ENOENT) /* closed meanwhile by a thread we could not see: skip */
			r = 0;
	}
	closedir(d);
	/* /proc lists fds in ascending order; keep that guarantee explicit. */
	for (size_t i = 1; r == 0 && i < n; i++)
		for (size_t j = i; j > 0 && files[j - 1].fd > files[j].fd; j--) {
			struct fr_file tf = files[j];
			struct fd_key tk = keys[j];
			files[j] = files[j - 1], keys[j] = keys[j - 1];
			files[j - 1] = tf, keys[j - 1] = tk;
		}
	/* fds on the same inode may share one open file description: ask kcmp. */
	for (size_t i = 0; r == 0 && i < n; i++)
		for (size_t j = 0; j < i; j++) {
			if (files[j].share_of >= 0 || keys[j].dev != keys[i].dev || keys[j].ino != keys[i].ino ||
			    files[j].kind != files[i].kind)
				continue;
			long k = syscall(SYS_kcmp, pid, pid, KCMP_FILE, files[j].fd, files[i].fd);
			if (k == 0) {
				files[i].share_of = files[j].fd;
				break;
			}
		}
	/* A memfd or deleted file is made anew from its record: two open file
	 * descriptions of one would come back as two files. */
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (files[i].share_of >= 0 || (files[i].kind != FILE_MEMFD && files[i].kind != FILE_GHOST))
			continue;
		for (size_t j = 0; j < i; j++)
			if (files[j].share_of < 0 && keys[j].dev == keys[i].dev && keys[j].ino == keys[i].ino) {
				snprintf(err, errlen, "fds %d and %d are two opens of one %s (%s): ferry cannot restore "
					 "it yet", files[j].fd, files[i].fd, fr_file_kind_name(files[i].kind), files[i].path);
				r = -EOPNOTSUPP;
				break;
			}
	}
	free(keys);
	if (r == 0)
		r = fd_objects_check(files, n, err, errlen);
	if (r == 0 && opts->read_queues)
		r = fd_objects_read_queues(&sc, files, n, err, errlen);
	else if (r == 0 && opts->checks_only)
		r = fd_objects_check_heads(&sc, files, n, err, errlen);
	fd_scan_end(&sc);
	if (r < 0) {
		free_files(files, n);
		return r;
	}
	img->files = files;
	img->nfiles = (uint32_t)n;
	return capture_file_locks(pid, img, err, errlen);
}
