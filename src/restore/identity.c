/* identity.c — what makes the rebuilt stub this process and not a blank
 * child of ferry, applied once its memory is built: session and process
 * group, the fd table, umask, personality, cwd, rlimits, prctl flags
 * (child subreaper, THP disable, no_new_privs), membarrier registrations
 * and the action of every signal. Credentials, per-thread state and signal
 * masks are threads.c's (credentials last: dropping them ends ferry's power
 * over the process; rlimits must come before, as root here lacks
 * CAP_SYS_RESOURCE to raise them back).
 *
 * Files are opened in two steps. identity_open_files() opens every FILE
 * record in ferry itself (an eventfd, epoll set, timerfd, signalfd or
 * inotify instance is made anew with its state: fd_kinds.h), right
 * after the metadata is read, so a missing or swapped file fails the
 * restore before any memory is built.
 * identity_apply() then passes them to the stub with SCM_RIGHTS over the
 * socketpair the stub was born with (remote recvmsg, its msghdr in the
 * scratch area) so that each lands on its recorded number (see struct
 * fd_pass), and closes everything else the stub has, the socket included.
 * A terminal (--shell-job) is ferry's own, passed the same way. Epoll
 * watches are added last, by remote epoll_ctl on the process's numbers,
 * and file locks taken again, by remote flock / fcntl.
 *
 * Each remote syscall costs ~0.1-0.2 ms here (two cross-CPU wake-ups), so
 * what the stub already has is not set again: rlimits are set from ferry
 * with prlimit, and personality, THP, child subreaper and the signal
 * actions only where the saved value differs from what the stub inherited
 * from ferry. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/eventfd.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/rsys.h"
#include "fd_kinds.h"
#include "fdobj.h"
#include "internal.h"

/* fds per SCM_RIGHTS message: SCM_MAX_FD, the most the kernel takes. */
#define FD_BATCH 253
/* Free numbers below a recorded fd are filled with placeholders when that
 * costs at most two more messages (two remote calls, as a dup3 + close
 * would); a number further up is reached with dup3. */
#define FILL_MAX (2 * FD_BATCH)
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

/* A new fd on ferry's terminal, for a record of a terminal (--shell-job). */
static int open_tty(const struct fr_file *f, int tty, int *out, char *err, size_t errlen)
{
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

/* A new eventfd with the recorded mode, counter and O_NONBLOCK. eventfd()
 * starts from 32 bits only: the counter is written, which adds all 64. */
static int make_eventfd(const struct fr_file *f, int *out, char *err, size_t errlen)
{
	int fd = eventfd(0, EFD_CLOEXEC | (int)(f->kind_flags & EFD_SEMAPHORE));
	int e = fd < 0 ? neg_errno() : 0;
	if (e == 0 && f->value && write(fd, &f->value, sizeof(f->value)) != (ssize_t)sizeof(f->value))
		e = neg_errno();
	if (e == 0)
		e = fd_set_nonblock(fd, f, err, errlen);
	if (e < 0) {
		snprintf(err, errlen, "cannot make eventfd %d again (counter %llu): %s", f->fd,
			 (unsigned long long)f->value, strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

/* Opens the file of one record that owns its description: a terminal, a
 * kernel object made anew, a pipe, FIFO or socket made again (fdobj.h: with
 * the other records of its object), an external fd handed in, else the
 * path reopened and seeked. */
static int open_one(const struct fr_image *img, uint32_t i, const struct restore_opts *opts, int tty, int *fds,
		    char *err, size_t errlen)
{
	const struct fr_file *f = &img->files[i];
	int *out = &fds[i];
	switch (f->kind) {
	case FILE_TTY: return open_tty(f, tty, out, err, errlen);
	case FILE_EVENTFD: return make_eventfd(f, out, err, errlen);
	case FILE_EPOLL: return fd_epoll_make(img, f, out, err, errlen);
	case FILE_TIMERFD: return fd_timerfd_make(img, f, out, err, errlen);
	case FILE_SIGNALFD: return fd_signalfd_make(img, f, out, err, errlen);
	case FILE_INOTIFY: return fd_inotify_make(img, f, out, err, errlen);
	case FILE_MEMFD: return fd_memfd_make(img, f, out, err, errlen);
	case FILE_GHOST: return fd_ghost_make(img, f, out, err, errlen);
	case FILE_PIPE: return fd_pipe_open(img, i, fds, err, errlen);
	case FILE_FIFO: return fd_fifo_open(img, i, fds, err, errlen);
	case FILE_UNIX: return fd_unix_open(img, i, fds, err, errlen);
	case FILE_INET: return fd_inet_open(f, opts, out, err, errlen);
	case FILE_EXTERNAL: return fd_external_open(f, opts, out, err, errlen);
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
		if (img->files[i].share_of >= 0 || open_fds[i] >= 0)
			continue; /* a dup of its owner, made in the stub; or made with an earlier record of its object */
		int r = open_one(img, i, opts, tty, open_fds, err, errlen);
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

/* ---- applied to the seized stub ---- */

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

/* Index of the record of fd, or of the first one above it (records are
 * sorted by fd). */
static uint32_t record_of(const struct fr_image *img, int fd)
{
	return image_file_index(img, img->nfiles, fd);
}

/* If the stub's end of the channel sits on a number the process had, it
 * moves to the lowest number the process did not have. */
static int move_channel(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen)
{
	uint32_t i = record_of(img, s->stub_chan_fd);
	if (i == img->nfiles || img->files[i].fd != s->stub_chan_fd)
		return 0;
	int free_fd = 0;
	for (i = 0; i < img->nfiles && img->files[i].fd == free_fd; i++)
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

/* Receives one message of n fds in the stub (without close-on-exec): got[]
 * are the numbers they were installed on. */
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
	long got_bytes = rsys(r, SYS_recvmsg, (uint64_t)s->stub_chan_fd, base, MSG_DONTWAIT, 0, 0, 0);
	if (got_bytes < 0)
		return (int)got_bytes;
	if ((e = remote_read(s->pid, base, &a, sizeof(a))) < 0)
		return e;
	a.msg.msg_control = a.ctl.buf; /* parse the copy here */
	struct cmsghdr *c = CMSG_FIRSTHDR(&a.msg);
	if (got_bytes != 1 || (a.msg.msg_flags & MSG_CTRUNC) || !c || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EMFILE; /* the stub could not take them all: its fd limit */
	memcpy(got, CMSG_DATA(c), n * sizeof(int));
	return 0;
}

int identity_lend_file(struct stub *s, struct rsys *r, int fd, int flags, long *at)
{
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	_cleanup_close_ int again = open(self, flags | O_CLOEXEC); /* a description with the access it needs */
	int got, e = again < 0 ? neg_errno() : send_fds(s->chan_fd, &again, 1);
	if (e == 0)
		e = recv_fds(s, r, 1, &got);
	if (e == 0)
		*at = got;
	return e;
}

/* Passing the fds. The stub installs each fd it receives on its lowest
 * free number, and has nothing open but its socket (moved off the recorded
 * numbers) and what it was passed. So ferry sends the files in ascending
 * order of their recorded numbers and, for each free number below the next
 * one, a placeholder (another copy of that file, closed at the end): every
 * file lands on its own number with no call to move it. A record sharing a
 * description is sent as another copy of its owner's file: the same open
 * file description, as a dup. A number too far above the last one to fill
 * is reached with dup3 instead, and so is everything after it. */
struct fd_pass {
	struct stub *s;
	struct rsys *r;
	int next;          /* the stub's lowest free number once the message is in */
	size_t n;          /* fds in the message being built */
	int src[FD_BATCH]; /* ferry's fds */
	int at[FD_BATCH];  /* the number each gets in the stub */
	int first_fd;      /* recorded number of the message's first file, for messages */
};

static int free_from(const struct fd_pass *p, int fd) { return fd == p->s->stub_chan_fd ? fd + 1 : fd; }

static int flush(struct fd_pass *p, char *err, size_t errlen)
{
	if (!p->n)
		return 0;
	int got[FD_BATCH];
	int e = send_fds(p->s->chan_fd, p->src, p->n);
	if (e == 0)
		e = recv_fds(p->s, p->r, p->n, got);
	if (e < 0)
		return fail(err, errlen, e, "cannot pass fd %d to the restore stub", p->first_fd);
	for (size_t j = 0; j < p->n; j++)
		if (got[j] != p->at[j])
			return fail(err, errlen, -EPROTO, "cannot pass fd %d to the restore stub: it got fd %d, not %d",
				    p->first_fd, got[j], p->at[j]);
	pr_debug("passed %zu fds to the restore stub: numbers %d..%d", p->n, p->at[0], p->at[p->n - 1]);
	p->n = 0;
	return 0;
}

/* Adds src to the message; it will land on the lowest free number. */
static int push(struct fd_pass *p, int src, int fd, char *err, size_t errlen)
{
	if (p->n == FD_BATCH) {
		int e = flush(p, err, errlen);
		if (e < 0)
			return e;
	}
	if (!p->n)
		p->first_fd = fd;
	p->at[p->n] = free_from(p, p->next);
	p->src[p->n++] = src;
	p->next = p->at[p->n - 1] + 1;
	return 0;
}

/* One file passed alone, then dup3'd to its number (with its close-on-exec)
 * and the received copy closed. */
static int place_far(struct fd_pass *p, const struct fr_file *f, int src, char *err, size_t errlen)
{
	int e = flush(p, err, errlen);
	if (e == 0)
		e = push(p, src, f->fd, err, errlen);
	if (e == 0)
		e = flush(p, err, errlen);
	if (e < 0)
		return e;
	int got = p->at[0];
	p->next = got; /* free again once closed */
	pr_debug("fd %d is too far above the others to fill the numbers between: moved there with dup3", f->fd);
	long d = rsys(p->r, SYS_dup3, (uint64_t)got, (uint64_t)f->fd, f->cloexec ? O_CLOEXEC : 0, 0, 0, 0);
	if (d >= 0)
		d = rsys(p->r, SYS_close, (uint64_t)got, 0, 0, 0, 0, 0);
	return d < 0 ? fail(err, errlen, d, "cannot place fd %d", f->fd) : 0;
}

/* ferry's fd for record i: its own, or its owner's if it shares one. */
static int source_of(const struct fr_image *img, const int *fds, uint32_t i)
{
	while (img->files[i].share_of >= 0)
		i = record_of(img, img->files[i].share_of);
	return fds[i];
}

/* Passes every file; *nfilled = how many records (a prefix) landed by
 * filling, without close-on-exec; the others were placed with dup3. */
static int pass_files(struct stub *s, struct rsys *r, const struct fr_image *img, const int *fds, uint32_t *nfilled,
		      char *err, size_t errlen)
{
	struct fd_pass p = {.s = s, .r = r};
	uint32_t i = 0;
	int e = 0;
	for (; i < img->nfiles && e == 0; i++) {
		const struct fr_file *f = &img->files[i];
		int src = source_of(img, fds, i);
		if (f->fd - free_from(&p, p.next) > FILL_MAX)
			break;
		while (e == 0 && free_from(&p, p.next) < f->fd)
			e = push(&p, src, f->fd, err, errlen); /* a placeholder */
		if (e == 0)
			e = push(&p, src, f->fd, err, errlen);
	}
	if (e == 0)
		e = flush(&p, err, errlen);
	*nfilled = i;
	for (; i < img->nfiles && e == 0; i++)
		e = place_far(&p, &img->files[i], source_of(img, fds, i), err, errlen);
	return e;
}

/* Close-on-exec for the filled records, one close_range call per run of
 * records that have it (placeholders between them get it too: they are
 * closed anyway). */
static int set_cloexec(struct rsys *r, const struct fr_image *img, uint32_t nfilled, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < nfilled; i++) {
		if (!img->files[i].cloexec)
			continue;
		uint32_t last = i;
		while (last + 1 < nfilled && img->files[last + 1].cloexec)
			last++;
		long e = rsys(r, SYS_close_range, (uint64_t)img->files[i].fd, (uint64_t)img->files[last].fd,
			      CLOSE_RANGE_CLOEXEC, 0, 0, 0);
		if (e < 0)
			return fail(err, errlen, e, "cannot set close-on-exec on fds %d..%d", img->files[i].fd,
				    img->files[last].fd);
		i = last;
	}
	return 0;
}

/* Closes every fd of the stub the process did not have: the gaps between
 * recorded numbers (placeholders) and everything above the last one (the
 * socket too, wherever it is). */
static int close_others(struct rsys *r, const struct fr_image *img, int keep, char *err, size_t errlen)
{
	uint64_t next = 0;
	long e = 0;
	for (uint32_t i = 0; i < img->nfiles && e >= 0; i++) {
		uint64_t fd = (uint64_t)img->files[i].fd;
		if (fd > next)
			e = rsys(r, SYS_close_range, next, fd - 1, 0, 0, 0, 0);
		next = fd + 1;
	}
	if (e >= 0 && keep >= 0 && (uint64_t)keep >= next) { /* above the process's own fds */
		if ((uint64_t)keep > next)
			e = rsys(r, SYS_close_range, next, (uint64_t)keep - 1, 0, 0, 0, 0);
		next = (uint64_t)keep + 1;
	}
	if (e >= 0)
		e = rsys(r, SYS_close_range, next, ~0u, 0, 0, 0, 0);
	return e < 0 ? fail(err, errlen, e, "cannot close the restore stub's own fds") : 0;
}

/* The stub has ferry's soft RLIMIT_NOFILE until the saved one is set: it
 * is raised first if the highest recorded number is above it (image.c
 * refuses numbers above the hard limit). */
static int make_room(struct stub *s, const struct fr_image *img, char *err, size_t errlen)
{
	struct rlimit lim;
	rlim_t need = img->nfiles ? (rlim_t)img->files[img->nfiles - 1].fd + 1 : 0;
	if (prlimit(s->pid, RLIMIT_NOFILE, NULL, &lim) < 0)
		return fail(err, errlen, neg_errno(), "cannot read the fd limit of the restore stub");
	if (need <= lim.rlim_cur)
		return 0;
	lim.rlim_cur = MIN(need, lim.rlim_max);
	if (prlimit(s->pid, RLIMIT_NOFILE, &lim, NULL) < 0)
		return fail(err, errlen, neg_errno(), "cannot raise the fd limit of the restore stub to %llu",
			    (unsigned long long)need);
	return 0;
}

static int apply_files(struct stub *s, struct rsys *r, const struct fr_image *img, const int *fds, char *err,
		       size_t errlen)
{
	uint32_t nfilled = 0;
	int e = make_room(s, img, err, errlen);
	if (e == 0)
		e = move_channel(s, r, img, err, errlen);
	if (e == 0)
		e = pass_files(s, r, img, fds, &nfilled, err, errlen);
	if (e == 0)
		e = set_cloexec(r, img, nfilled, err, errlen);
	if (e == 0)
		e = close_others(r, img, s->keep_fd, err, errlen);
	close(s->chan_fd); /* the stub's end is gone (or the stub is about to be) */
	s->chan_fd = -1;
	s->stub_chan_fd = -1;
	return e;
}

/* prlimit64 from ferry: ferry and the stub have the same credentials until
 * threads_restore drops them, and this needs no call inside the stub. */
static int apply_rlimits(struct stub *s, const struct fr_process *p, char *err, size_t errlen)
{
	for (int i = 0; i < FR_NLIMITS; i++)
		if (prlimit(s->pid, (__rlimit_resource_t)i, &p->rlim[i], NULL) < 0) {
			snprintf(err, errlen, "cannot set %s to %llu/%llu: %s", rlimit_names[i],
				 (unsigned long long)p->rlim[i].rlim_cur, (unsigned long long)p->rlim[i].rlim_max,
				 strerror(errno));
			return neg_errno();
		}
	return 0;
}

/* The prctl flags; the stub inherited ferry's THP setting and no_new_privs
 * (which cannot be cleared), and a new process is no child subreaper. */
static int apply_prctl(struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	long e = 0;
	if (p->child_subreaper)
		e = rsys(r, SYS_prctl, PR_SET_CHILD_SUBREAPER, (uint64_t)p->child_subreaper, 0, 0, 0, 0);
	if (e >= 0 && p->thp_disable != prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0))
		e = rsys(r, SYS_prctl, PR_SET_THP_DISABLE, (uint64_t)p->thp_disable, 0, 0, 0, 0);
	if (e >= 0 && p->no_new_privs)
		e = rsys(r, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
	return e < 0 ? fail(err, errlen, e, "prctl failed") : 0;
}

/* chdir in the stub; err names dir. */
static int enter_dir(struct stub *s, struct rsys *r, const char *dir, char *err, size_t errlen)
{
	size_t n = strlen(dir) + 1;
	long e = n > s->scratch_len ? -ENAMETOOLONG : remote_write(s->pid, s->scratch, dir, n);
	if (e == 0)
		e = rsys(r, SYS_chdir, s->scratch, 0, 0, 0, 0, 0);
	return e < 0 ? fail(err, errlen, e, "cannot enter the working directory %s", dir) : 0;
}

/* A working directory that was removed (it was empty: rmdir takes nothing
 * else) is made again with its mode under its old path (beside it, if
 * that path is taken now), entered, and removed. */
static int enter_deleted_dir(struct stub *s, struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	char made[PATH_MAX];
	mode_t mode = (mode_t)(p->cwd_deleted & 07777);
	snprintf(made, sizeof(made), "%s", p->cwd);
	if (mkdir(made, mode) < 0) {
		int e = neg_errno();
		snprintf(made, sizeof(made), "%s.ferry-XXXXXX", p->cwd);
		if (e != -EEXIST || !mkdtemp(made))
			return fail(err, errlen, e == -EEXIST ? neg_errno() : e,
				    "cannot make the removed working directory %s again", p->cwd);
	}
	int e = chmod(made, mode) < 0 ? fail(err, errlen, neg_errno(), "cannot set the mode of %s", made) : 0;
	if (e == 0)
		e = enter_dir(s, r, made, err, errlen);
	if (rmdir(made) < 0 && e == 0)
		e = fail(err, errlen, neg_errno(), "cannot remove the working directory %s again", made);
	return e;
}

/* umask, personality, cwd, rlimits, prctl flags. */
static int apply_process(struct stub *s, struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	rsys(r, SYS_umask, p->umask, 0, 0, 0, 0, 0); /* returns the old mask, never fails */
	long e = 0;
	if ((unsigned)personality(0xffffffff) != p->personality) /* else inherited from ferry */
		e = rsys(r, SYS_personality, p->personality, 0, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "personality(%#x) failed: %s", p->personality, strerror((int)-e));
		return (int)e;
	}
	int ret = p->cwd_deleted ? enter_deleted_dir(s, r, p, err, errlen) : enter_dir(s, r, p->cwd, err, errlen);
	if (ret < 0)
		return ret;
	ret = apply_rlimits(s, p, err, errlen);
	return ret < 0 ? ret : apply_prctl(r, p, err, errlen);
}

/* membarrier(2) registrations belong to the mm, which is the process's now:
 * each saved bit is the command that registers it again. */
static int apply_membarrier(struct rsys *r, uint32_t registrations, char *err, size_t errlen)
{
	for (uint32_t bit = 0; bit < 32; bit++) {
		uint32_t cmd = 1u << bit;
		if (!(registrations & cmd))
			continue;
		long e = rsys(r, SYS_membarrier, cmd, 0, 0, 0, 0, 0);
		if (e < 0)
			return fail(err, errlen, e, "cannot register membarrier command %#x again", cmd);
	}
	return 0;
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

/* The saved action of every signal, set where it differs from the one the
 * stub inherited from ferry (most are SIG_DFL in both). */
static int apply_sigactions(struct stub *s, struct rsys *r, const struct fr_process *p, char *err, size_t errlen)
{
	int e = remote_write(s->pid, s->scratch, p->sigact, sizeof(p->sigact));
	if (e < 0)
		return e;
	int set = 0;
	for (int sig = 1; sig <= FR_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || !memcmp(&p->sigact[sig - 1], &s->sigact[sig - 1], sizeof(p->sigact[0])))
			continue;
		uint64_t act = s->scratch + (uint64_t)(sig - 1) * sizeof(p->sigact[0]);
		long a = rsys(r, SYS_rt_sigaction, (uint64_t)sig, act, 0, sizeof(uint64_t), 0, 0);
		if (a < 0 && a != -EINVAL)
			return fail(err, errlen, a, "cannot restore the action of signal %d", sig);
		set++;
	}
	pr_debug("%d signal action(s) set, the others were already as saved", set);
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
	/* objects only mappings hold come last (image.c) and are not installed */
	struct fr_image installed = *img;
	while (installed.nfiles && installed.files[installed.nfiles - 1].mapping_only)
		installed.nfiles--;
	if ((e = apply_session(s, &r, &img->proc, opts->shell_job, err, errlen)) == 0 &&
	    (e = apply_files(s, &r, &installed, fds, err, errlen)) == 0 &&
	    (e = fd_epoll_add_watches(s, &r, img, err, errlen)) == 0 &&
	    (e = file_locks_apply(s, &r, img, err, errlen)) == 0 && (e = apply_process(s, &r, &img->proc, err, errlen)) == 0 &&
	    (e = apply_membarrier(&r, img->proc.membarrier, err, errlen)) == 0 &&
	    (e = drop_stray_signals(s, &r, err, errlen)) == 0)
		e = apply_sigactions(s, &r, &img->proc, err, errlen);
	int end = rsys_end(&r);
	return e < 0 ? e : end;
}
