/* identity.c — what makes the rebuilt stub this process and not a blank
 * child of ferry, applied by remote syscalls once its memory is built:
 * session and process group, the fd table, umask, personality, cwd,
 * rlimits, prctl flags (child subreaper, THP disable, no_new_privs) and the
 * action of every signal. Credentials, per-thread state and signal masks
 * are threads.c's (credentials last: dropping them ends ferry's power over
 * the process; rlimits must come before, as root here lacks
 * CAP_SYS_RESOURCE to raise them back).
 *
 * Files are opened in two steps. identity_open_files() opens every FILE
 * record in ferry itself, right after the metadata is read, so a missing
 * or swapped file fails the restore before any memory is built.
 * identity_apply() then passes them to the stub with SCM_RIGHTS over the
 * socketpair the stub was born with (remote recvmsg, its msghdr in the
 * scratch area), places each at its recorded number with dup3, recreates
 * shared descriptions with dup3 of their owner, and closes everything else
 * the stub has, the socket included. A terminal (--shell-job) is ferry's
 * own, passed the same way. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/rsys.h"
#include "internal.h"

/* fds passed per SCM_RIGHTS message (the kernel takes at most 253). */
#define FD_BATCH 64
/* Signals queued in the stub before it became the process, dequeued one per
 * call: bounded so a stub flooded with signals cannot hold the restore. */
#define STRAY_SIGNALS_MAX 4096

static const char *const rlimit_names[FR_NLIMITS] = {
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
	"RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
	"RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

/* ---- in ferry, before the stub exists ---- */

static int find_tty_fd(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

/* Opens the file of one record that owns its description: a new fd on
 * ferry's terminal for a TTY, else the path reopened and seeked. */
static int open_one(const struct fr_file *f, int tty, int *out, char *err, size_t errlen)
{
	if (f->kind == FILE_TTY) {
		if (tty < 0) {
			snprintf(err, errlen, "fd %d was a terminal (%s) but ferry has no terminal to attach it to", f->fd,
				 f->path ? f->path : "?");
			return -ENOTTY;
		}
		*out = fcntl(tty, F_DUPFD_CLOEXEC, 0);
		if (*out < 0) {
			snprintf(err, errlen, "cannot take ferry's terminal for fd %d: %s", f->fd, strerror(errno));
			return neg_errno();
		}
		return 0;
	}
	int r = file_reopen(f, out, err, errlen);
	if (r < 0)
		return r;
	if (f->kind == FILE_REG && lseek(*out, f->pos, SEEK_SET) != f->pos) {
		r = neg_errno();
		snprintf(err, errlen, "cannot seek fd %d (%s) to %lld: %s", f->fd, f->path, (long long)f->pos,
			 strerror(-r));
		close(*out);
		*out = -1;
		return r;
	}
	return 0;
}

int identity_open_files(const struct fr_image *img, const struct restore_opts *opts, int **fds, char *err,
			size_t errlen)
{
	*fds = NULL;
	if (!img->nfiles)
		return 0;
	int *open_fds = malloc(img->nfiles * sizeof(*open_fds));
	if (!open_fds) {
		snprintf(err, errlen, "out of memory for %u fds", img->nfiles);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < img->nfiles; i++)
		open_fds[i] = -1;
	int tty = opts->shell_job ? find_tty_fd() : -1;
	for (uint32_t i = 0; i < img->nfiles; i++) {
		if (img->files[i].share_of >= 0)
			continue; /* a dup of its owner, made in the stub */
		int r = open_one(&img->files[i], tty, &open_fds[i], err, errlen);
		if (r < 0) {
			identity_close_files(open_fds, img->nfiles);
			return r;
		}
	}
	*fds = open_fds;
	return 0;
}

void identity_close_files(int *fds, uint32_t n)
{
	if (!fds)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/* ---- in the stub, by remote syscalls ---- */

/* err = "<what>: <strerror(-e)>"; returns e. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, long e, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", what, strerror((int)-e));
	return (int)e;
}

/* Same rules as a process that sets itself up: a session leader makes its
 * session; anything else must find its session here (or be a shell job);
 * a group leader makes its group, a member joins it. */
static int apply_session(struct stub *s, struct rsys *r, const struct fr_process *p, bool shell_job, char *err,
			 size_t errlen)
{
	long e;
	if (p->sid == p->pid) {
		if ((e = rsys(r, SYS_setsid, 0, 0, 0, 0, 0, 0)) < 0)
			return fail(err, errlen, e, "setsid failed");
		return 0;
	}
	pid_t sid = getsid(s->pid), pgid = getpgid(s->pid);
	if (sid < 0 || pgid < 0)
		return fail(err, errlen, neg_errno(), "cannot read the session of the restore stub %d", s->pid);
	if (p->sid != sid && !shell_job) {
		snprintf(err, errlen, "pid %d belonged to session %d, which does not exist here "
			 "(ferry restores session leaders, or use --shell-job)", p->pid, p->sid);
		return -ESRCH;
	}
	if (p->pgid == p->pid) {
		if ((e = rsys(r, SYS_setpgid, 0, 0, 0, 0, 0, 0)) < 0)
			return fail(err, errlen, e, "setpgid failed");
	} else if (p->pgid != pgid && !shell_job && (e = rsys(r, SYS_setpgid, 0, (uint64_t)p->pgid, 0, 0, 0, 0)) < 0) {
		return fail(err, errlen, e, "cannot join process group %d", p->pgid);
	}
	return 0;
}

static const struct fr_file *file_at(const struct fr_image *img, int fd)
{
	for (uint32_t i = 0; i < img->nfiles && img->files[i].fd <= fd; i++)
		if (img->files[i].fd == fd)
			return &img->files[i];
	return NULL;
}

/* If the stub's end of the channel sits on a number the process had, it
 * moves to the lowest number the process did not have. */
static int move_channel(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	if (!file_at(img, s->stub_chan_fd))
		return 0;
	int free_fd = 0;
	for (uint32_t i = 0; i < img->nfiles && img->files[i].fd == free_fd; i++)
		free_fd++;
	long e = rsys(r, SYS_dup3, (uint64_t)s->stub_chan_fd, (uint64_t)free_fd, O_CLOEXEC, 0, 0, 0);
	if (e >= 0)
		e = rsys(r, SYS_close, (uint64_t)s->stub_chan_fd, 0, 0, 0, 0, 0);
	if (e < 0)
		return fail(err, errlen, e, "cannot move the restore stub's socket off fd %d", s->stub_chan_fd);
	pr_debug("the restore stub's socket moves from fd %d to fd %d", s->stub_chan_fd, free_fd);
	s->stub_chan_fd = free_fd;
	return 0;
}

union fd_control {
	char buf[CMSG_SPACE(sizeof(int) * FD_BATCH)];
	struct cmsghdr align;
};

static int send_fds(int chan, const int *fds, size_t n)
{
	union fd_control ctl;
	memset(&ctl, 0, sizeof(ctl));
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			   .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	ssize_t w;
	do
		w = sendmsg(chan, &m, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w < 0 ? neg_errno() : 0;
}

/* What a remote recvmsg reads and fills, laid out in the scratch area. */
struct recv_area {
	struct msghdr msg;
	struct iovec iov;
	char byte;
	union fd_control ctl;
};

/* Receives one message of n fds in the stub: got[] are their numbers there
 * (ascending: each is the lowest free number when it is installed). */
static int recv_fds(struct stub *s, struct rsys *r, size_t n, int *got)
{
	struct recv_area a;
	memset(&a, 0, sizeof(a));
	uint64_t base = s->scratch;
	a.iov = (struct iovec){.iov_base = (void *)(uintptr_t)(base + offsetof(struct recv_area, byte)), .iov_len = 1};
	a.msg = (struct msghdr){.msg_iov = (void *)(uintptr_t)(base + offsetof(struct recv_area, iov)), .msg_iovlen = 1,
				.msg_control = (void *)(uintptr_t)(base + offsetof(struct recv_area, ctl)),
				.msg_controllen = sizeof(a.ctl)};
	int e = remote_write(s->pid, base, &a, sizeof(a));
	if (e < 0)
		return e;
	/* The message is queued already: never block in the stub. */
	long got_bytes = rsys(r, SYS_recvmsg, (uint64_t)s->stub_chan_fd, base, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 0, 0, 0);
	if (got_bytes < 0)
		return (int)got_bytes;
	if ((e = remote_read(s->pid, base, &a, sizeof(a))) < 0)
		return e;
	a.msg.msg_control = a.ctl.buf; /* parse the copy here */
	struct cmsghdr *c = CMSG_FIRSTHDR(&a.msg);
	if (got_bytes != 1 || (a.msg.msg_flags & MSG_CTRUNC) || !c || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EMFILE; /* the stub could not take them all: its fd limit */
	memcpy(got, CMSG_DATA(c), n * sizeof(int));
	return 0;
}

/* Puts received fd `from` at the record's number with its close-on-exec. */
static int place_fd(struct rsys *r, const struct fr_file *f, int from, char *err, size_t errlen)
{
	long e;
	if (from == f->fd) { /* received with close-on-exec set */
		if (!f->cloexec && (e = rsys(r, SYS_fcntl, (uint64_t)from, F_SETFD, 0, 0, 0, 0)) < 0)
			return fail(err, errlen, e, "fcntl on fd %d", f->fd);
		return 0;
	}
	e = rsys(r, SYS_dup3, (uint64_t)from, (uint64_t)f->fd, f->cloexec ? O_CLOEXEC : 0, 0, 0, 0);
	if (e < 0)
		return fail(err, errlen, e, "cannot place fd %d", f->fd);
	rsys(r, SYS_close, (uint64_t)from, 0, 0, 0, 0, 0);
	return 0;
}

/* One batch: files[idx[0..n)] (ascending fd numbers) passed and placed.
 * Placed from the last down: received fds take the lowest free numbers,
 * so the j-th received is at or below the j-th target and above every
 * earlier received one; going down, no target is a received fd still
 * waiting to be placed (checked anyway). */
static int pass_batch(struct stub *s, struct rsys *r, const struct fr_image *img, const int *fds, const uint32_t *idx,
		      size_t n, char *err, size_t errlen)
{
	int mine[FD_BATCH], got[FD_BATCH];
	for (size_t j = 0; j < n; j++)
		mine[j] = fds[idx[j]];
	int e = send_fds(s->chan_fd, mine, n);
	if (e == 0)
		e = recv_fds(s, r, n, got);
	if (e < 0)
		return fail(err, errlen, e, "cannot pass fd %d to the restore stub", img->files[idx[0]].fd);
	pr_debug("passed fds %d..%d (%zu of them) to the restore stub", img->files[idx[0]].fd, img->files[idx[n - 1]].fd,
		 n);
	for (size_t j = n; j-- > 0;) {
		const struct fr_file *f = &img->files[idx[j]];
		for (size_t m = 0; m < j; m++)
			if (got[m] == f->fd)
				return fail(err, errlen, -EBUSY, "cannot place fd %d", f->fd);
		if ((e = place_fd(r, f, got[j], err, errlen)) < 0)
			return e;
	}
	return 0;
}

/* Closes every fd of the stub the process did not have: the gaps between
 * recorded numbers and everything above the last one (the socket too). */
static int close_others(struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	uint64_t next = 0;
	long e = 0;
	for (uint32_t i = 0; i < img->nfiles && e >= 0; i++) {
		uint64_t fd = (uint64_t)img->files[i].fd;
		if (fd > next)
			e = rsys(r, SYS_close_range, next, fd - 1, 0, 0, 0, 0);
		next = fd + 1;
	}
	if (e >= 0)
		e = rsys(r, SYS_close_range, next, ~0u, 0, 0, 0, 0);
	return e < 0 ? fail(err, errlen, e, "cannot close the restore stub's own fds") : 0;
}

static int apply_files(struct stub *s, struct rsys *r, const struct fr_image *img, const int *fds, char *err,
		       size_t errlen)
{
	int e = move_channel(s, r, img, err, errlen);
	uint32_t idx[FD_BATCH];
	size_t n = 0;
	for (uint32_t i = 0; i < img->nfiles && e == 0; i++) {
		if (img->files[i].share_of < 0)
			idx[n++] = i;
		if (n == FD_BATCH || (n && i + 1 == img->nfiles)) {
			e = pass_batch(s, r, img, fds, idx, n, err, errlen);
			n = 0;
		}
	}
	for (uint32_t i = 0; i < img->nfiles && e == 0; i++) {
		const struct fr_file *f = &img->files[i];
		if (f->share_of < 0)
			continue;
		long d = rsys(r, SYS_dup3, (uint64_t)f->share_of, (uint64_t)f->fd, f->cloexec ? O_CLOEXEC : 0, 0, 0, 0);
		if (d < 0)
			e = fail(err, errlen, d, "cannot place fd %d", f->fd);
	}
	if (e == 0)
		e = close_others(r, img, err, errlen);
	close(s->chan_fd); /* the stub's end is gone (or the stub is about to be) */
	s->chan_fd = -1;
	s->stub_chan_fd = -1;
	return e;
}

/* umask, personality, cwd, rlimits, prctl flags. */
static int apply_process(struct stub *s, struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	rsys(r, SYS_umask, p->umask, 0, 0, 0, 0, 0); /* returns the old mask, never fails */
	long e = rsys(r, SYS_personality, p->personality, 0, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "personality(%#x) failed: %s", p->personality, strerror((int)-e));
		return (int)e;
	}
	size_t n = strlen(p->cwd) + 1;
	e = n > s->scratch_len ? -ENAMETOOLONG : remote_write(s->pid, s->scratch, p->cwd, n);
	if (e == 0)
		e = rsys(r, SYS_chdir, s->scratch, 0, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "cannot enter the working directory %s: %s", p->cwd, strerror((int)-e));
		return (int)e;
	}
	if ((e = remote_write(s->pid, s->scratch, p->rlim, sizeof(p->rlim))) < 0)
		return (int)e;
	for (int i = 0; i < FR_NLIMITS; i++) {
		e = rsys(r, SYS_prlimit64, 0, (uint64_t)i, s->scratch + (uint64_t)i * sizeof(p->rlim[0]), 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot set %s to %llu/%llu: %s", rlimit_names[i],
				 (unsigned long long)p->rlim[i].rlim_cur, (unsigned long long)p->rlim[i].rlim_max,
				 strerror((int)-e));
			return (int)e;
		}
	}
	e = rsys(r, SYS_prctl, PR_SET_CHILD_SUBREAPER, (uint64_t)p->child_subreaper, 0, 0, 0, 0);
	if (e >= 0)
		e = rsys(r, SYS_prctl, PR_SET_THP_DISABLE, (uint64_t)p->thp_disable, 0, 0, 0, 0);
	if (e >= 0 && p->no_new_privs)
		e = rsys(r, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
	return e < 0 ? fail(err, errlen, e, "prctl failed") : 0;
}

/* Signals that reached the stub while it was still ferry's blank child (a
 * terminal's SIGWINCH or SIGTSTP sent to ferry's process group, say) are
 * not the process's: dequeue them before its own actions are set. Its own
 * pending signals are queued later by threads_restore. */
static int drop_stray_signals(struct stub *s, struct rsys *r, char *err, size_t errlen)
{
	uint64_t all = ~0ull;
	struct timespec now = {0, 0};
	uint64_t set = s->scratch, ts = s->scratch + sizeof(all);
	int e = remote_write(s->pid, set, &all, sizeof(all));
	if (e == 0)
		e = remote_write(s->pid, ts, &now, sizeof(now));
	for (int i = 0; e == 0 && i < STRAY_SIGNALS_MAX; i++) {
		long sig = rsys(r, SYS_rt_sigtimedwait, set, 0, ts, sizeof(all), 0, 0);
		if (sig == -EAGAIN)
			return 0;
		if (sig < 0)
			e = (int)sig;
		else
			pr_debug("dropped signal %ld sent to the restore stub before it was pid %d", sig, s->pid);
	}
	if (e == 0) {
		snprintf(err, errlen, "more than %d signals are pending in the restore stub %d", STRAY_SIGNALS_MAX,
			 s->pid);
		return -EAGAIN;
	}
	return fail(err, errlen, e, "cannot clear the signals pending in the restore stub %d", s->pid);
}

static int apply_sigactions(struct stub *s, struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	int e = remote_write(s->pid, s->scratch, p->sigact, sizeof(p->sigact));
	if (e < 0)
		return e;
	for (int sig = 1; sig <= FR_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		uint64_t act = s->scratch + (uint64_t)(sig - 1) * sizeof(p->sigact[0]);
		long a = rsys(r, SYS_rt_sigaction, (uint64_t)sig, act, 0, sizeof(uint64_t), 0, 0);
		if (a < 0 && a != -EINVAL)
			return fail(err, errlen, a, "cannot restore the action of signal %d", sig);
	}
	return 0;
}

int identity_apply(struct stub *s, const struct fr_image *img, const struct restore_opts *opts, int *fds, char *err,
		   size_t errlen)
{
	struct rsys r;
	int e = rsys_begin(&r, s->pid, s->sys_ip);
	if (e < 0) {
		snprintf(err, errlen, "cannot drive the restore stub %d: %s", s->pid, strerror(-e));
		return e;
	}
	if ((e = apply_session(s, &r, &img->proc, opts->shell_job, err, errlen)) == 0 &&
	    (e = apply_files(s, &r, img, fds, err, errlen)) == 0 && (e = apply_process(s, &r, &img->proc, err, errlen)) == 0 &&
	    (e = drop_stray_signals(s, &r, err, errlen)) == 0)
		e = apply_sigactions(s, &r, &img->proc, err, errlen);
	int end = rsys_end(&r);
	return e < 0 ? e : end;
}
