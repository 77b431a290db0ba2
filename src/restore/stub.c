/* stub.c — the restore stub: a child forked with clone3(set_tid) so it has
 * the saved pid. Running ferry's own code, it sets up everything a process
 * can do to itself before its memory is replaced: session and process
 * group, umask, personality, cwd, rlimits (before credentials drop: root
 * here lacks CAP_SYS_RESOURCE), prctl state, signal dispositions, and the
 * fd table. Then it reports over a pipe and waits to be seized. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/proc.h"
#include "internal.h"

#define STUB_READY 'R'
#define PID_REAP_WAIT_MS 5000 /* init reaps orphans only every ~2 s here */
#define KSIGACTION_SIZE 32

static const char *const rlimit_names[FR_NLIMITS] = {
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
	"RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
	"RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

/* Child side: report a failure to the parent and exit. */
__attribute__((noreturn, format(printf, 2, 3))) static void stub_fail(int hs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (write(hs, msg, strlen(msg)) < 0) {
		/* nothing more to say: the parent sees EOF */
	}
	_exit(1);
}

static void setup_session(const struct fr_image *img, const struct restore_opts *opts, int hs)
{
	const struct fr_process *p = &img->proc;
	if (p->sid == p->pid) {
		if (setsid() < 0)
			stub_fail(hs, "setsid failed: %s", strerror(errno));
		return;
	}
	if (p->sid != getsid(0) && !opts->shell_job)
		stub_fail(hs, "pid %d belonged to session %d, which does not exist here "
			      "(ferry restores session leaders, or use --shell-job)", p->pid, p->sid);
	if (p->pgid == p->pid) {
		if (setpgid(0, 0) < 0)
			stub_fail(hs, "setpgid failed: %s", strerror(errno));
	} else if (p->pgid != getpgid(0) && !opts->shell_job && setpgid(0, p->pgid) < 0) {
		stub_fail(hs, "cannot join process group %d: %s", p->pgid, strerror(errno));
	}
}

static int find_tty_fd(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

static void setup_files(const struct fr_image *img, const struct restore_opts *opts, int *hs)
{
	int max_fd = -1;
	for (uint32_t i = 0; i < img->nfiles; i++)
		max_fd = MAX(max_fd, img->files[i].fd);
	/* Keep our own fds above every fd number the process will own. */
	int nhs = fcntl(*hs, F_DUPFD_CLOEXEC, max_fd + 1);
	if (nhs < 0)
		stub_fail(*hs, "cannot move the handshake pipe: %s", strerror(errno));
	*hs = nhs;
	int tty = -1, ferry_tty = opts->shell_job ? find_tty_fd() : -1;
	if (ferry_tty >= 0)
		tty = fcntl(ferry_tty, F_DUPFD_CLOEXEC, max_fd + 1);

	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct fr_file *f = &img->files[i];
		int src, flags_cloexec = f->cloexec ? O_CLOEXEC : 0;
		bool opened = false;
		if (f->share_of >= 0) {
			src = f->share_of;
		} else if (f->kind == FILE_TTY) {
			if (tty < 0)
				stub_fail(*hs, "fd %d was a terminal (%s) but ferry has no terminal to attach it to", f->fd,
					  f->path ? f->path : "?");
			src = tty;
		} else {
			char why[512];
			if (file_reopen(f, &src, why, sizeof(why)) < 0)
				stub_fail(*hs, "%s", why);
			opened = true;
			if (f->kind == FILE_REG && lseek(src, f->pos, SEEK_SET) != f->pos)
				stub_fail(*hs, "cannot seek fd %d (%s) to %lld: %s", f->fd, f->path, (long long)f->pos,
					  strerror(errno));
		}
		if (src == f->fd) {
			if (fcntl(src, F_SETFD, f->cloexec ? FD_CLOEXEC : 0) < 0)
				stub_fail(*hs, "fcntl on fd %d: %s", f->fd, strerror(errno));
		} else {
			if (dup3(src, f->fd, flags_cloexec) < 0)
				stub_fail(*hs, "cannot place fd %d: %s", f->fd, strerror(errno));
			if (opened)
				close(src);
		}
	}
	/* Close everything else ferry had open. */
	uint32_t k = 0;
	for (int fd = 0; fd <= max_fd; fd++) {
		while (k < img->nfiles && img->files[k].fd < fd)
			k++;
		if (k < img->nfiles && img->files[k].fd == fd)
			continue;
		close(fd);
	}
	if (tty >= 0)
		close(tty);
	syscall(SYS_close_range, (unsigned)max_fd + 1, (unsigned)*hs - 1, 0);
	syscall(SYS_close_range, (unsigned)*hs + 1, ~0u, 0);
}

static void setup_signals(const struct fr_image *img, int hs)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL); /* handlers point into memory not mapped yet */
	for (int sig = 1; sig <= FR_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		const struct fr_sigaction *a = &img->proc.sigact[sig - 1];
		if (syscall(SYS_rt_sigaction, sig, a, NULL, sizeof(uint64_t)) < 0 && errno != EINVAL)
			stub_fail(hs, "cannot restore the action of signal %d: %s", sig, strerror(errno));
	}
}

__attribute__((noreturn)) static void stub_main(const struct fr_image *img, const struct restore_opts *opts, int hs)
{
	const struct fr_process *p = &img->proc;
	setup_session(img, opts, hs);
	setup_files(img, opts, &hs);
	umask(p->umask);
	if (personality(p->personality) < 0)
		stub_fail(hs, "personality(%#x) failed: %s", p->personality, strerror(errno));
	if (chdir(p->cwd) < 0)
		stub_fail(hs, "cannot enter the working directory %s: %s", p->cwd, strerror(errno));
	for (int i = 0; i < FR_NLIMITS; i++)
		if (setrlimit(i, &p->rlim[i]) < 0)
			stub_fail(hs, "cannot set %s to %llu/%llu: %s", rlimit_names[i],
				  (unsigned long long)p->rlim[i].rlim_cur, (unsigned long long)p->rlim[i].rlim_max,
				  strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, p->child_subreaper, 0, 0, 0) < 0 ||
	    prctl(PR_SET_THP_DISABLE, p->thp_disable, 0, 0, 0) < 0 ||
	    (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
		stub_fail(hs, "prctl failed: %s", strerror(errno));
	setup_signals(img, hs);
	char ready[1 + sizeof(int)] = {STUB_READY};
	memcpy(ready + 1, &hs, sizeof(int)); /* tell ferry which fd to close at the end */
	if (write(hs, ready, sizeof(ready)) != (ssize_t)sizeof(ready))
		_exit(1);
	for (;;)
		syscall(SYS_pause);
}

#define HOLDER_DESCRIBE_MAX 96

/* Why clone3 found pid taken although /proc/PID was free: a pid stays
 * allocated while any process uses it as its process group or session id
 * (the dumped process's orphans, typically). */
static void explain_taken(pid_t pid, char *err, size_t errlen)
{
	struct proc_kin kin;
	char who[HOLDER_DESCRIBE_MAX];
	const char *what = NULL;
	const struct proc_kin_list *l = NULL;
	if (proc_exists(pid) && !proc_is_zombie_or_gone(pid)) {
		proc_describe(pid, who, sizeof(who));
		snprintf(err, errlen, "pid %d is taken in this pid namespace by the running process %s", pid, who);
		return;
	}
	if (proc_find_kin(pid, false, &kin) == 0) {
		if (kin.session.n)
			what = "session", l = &kin.session;
		else if (kin.group.n)
			what = "process group", l = &kin.group;
	}
	if (!l) {
		snprintf(err, errlen, "pid %d is taken in this pid namespace", pid);
		return;
	}
	proc_describe(l->pid[0], who, sizeof(who));
	char more[48] = "";
	if (l->n > 1)
		snprintf(more, sizeof(more), " and %zu other process%s", l->n - 1, l->n == 2 ? "" : "es");
	snprintf(err, errlen, "pid %d is taken in this pid namespace: no process has it, but it is still the %s id "
		 "of pid %s%s; it is free once they exit", pid, what, who, more);
}

bool restore_pid_taken(pid_t pid, char *why, size_t len)
{
	struct proc_kin kin;
	bool kin_uses = proc_find_kin(pid, false, &kin) == 0 && (kin.session.n || kin.group.n);
	if (!kin_uses && !proc_exists(pid))
		return false;
	if (!kin_uses && proc_is_zombie_or_gone(pid))
		snprintf(why, len, "pid %d is taken in this pid namespace by a zombie", pid);
	else
		explain_taken(pid, why, len);
	return true;
}

static int wait_pid_free(pid_t pid, char *err, size_t errlen)
{
	double deadline = now_ms() + PID_REAP_WAIT_MS;
	while (proc_exists(pid)) {
		if (!proc_is_zombie_or_gone(pid)) {
			char who[HOLDER_DESCRIBE_MAX];
			proc_describe(pid, who, sizeof(who));
			snprintf(err, errlen, "pid %d is taken in this pid namespace by the running process %s", pid, who);
			return -EEXIST;
		}
		if (now_ms() > deadline) {
			snprintf(err, errlen, "pid %d is taken (a zombie nobody reaps)", pid);
			return -EEXIST;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int stub_create(const struct fr_image *img, const struct restore_opts *opts, struct stub *stub, char *err,
		size_t errlen)
{
	*stub = (struct stub){.pid = -1, .hs_fd = -1};
	for (uint32_t i = 0; i < img->nthreads; i++) {
		int r = wait_pid_free(img->threads[i].tid, err, errlen);
		if (r < 0)
			return r;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return neg_errno();
	pid_t want = img->proc.pid;
	struct clone_args ca = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
	fflush(NULL);
	long child = syscall(SYS_clone3, &ca, sizeof(ca));
	if (child == 0) {
		close(pfd[0]);
		stub_main(img, opts, pfd[1]);
	}
	close(pfd[1]);
	if (child < 0) {
		int e = neg_errno();
		close(pfd[0]);
		if (e == -EEXIST)
			explain_taken(want, err, errlen);
		else
			snprintf(err, errlen, "clone3 with pid %d failed: %s%s", want, strerror(-e),
				 e == -EPERM ? " (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)" : "");
		return e;
	}
	stub->pid = (pid_t)child;
	char msg[512];
	ssize_t n;
	do
		n = read(pfd[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == 1 + (ssize_t)sizeof(int) && msg[0] == STUB_READY) {
		memcpy(&stub->hs_fd, msg + 1, sizeof(int));
		return 0;
	}
	msg[n > 0 ? n : 0] = '\0';
	snprintf(err, errlen, "%s", n > 0 ? msg : "the restore stub died during set-up");
	stub_kill(stub);
	return -EIO;
}

void stub_kill(struct stub *stub)
{
	if (stub->pid <= 0)
		return;
	kill(stub->pid, SIGKILL);
	int status;
	while (waitpid(stub->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	stub->pid = -1;
}
