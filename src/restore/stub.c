/* stub.c — the restore stub: a child made with clone3(set_tid) so it has
 * the saved pid, and knows nothing of the image. It blocks every signal,
 * closes every fd but its end of an AF_UNIX socketpair (the channel over
 * which ferry later passes the process's files with SCM_RIGHTS), reports
 * ready over a pipe and pauses until ferry seizes it. Everything else is
 * done to it by ferry with remote syscalls: memory (mm.c), identity and
 * files (identity.c), threads (threads.c). So the stub can exist, and its
 * memory be built, while the final state of the process is still unknown
 * (pre-copy rounds). Also here: waiting for a pid to be free, and saying
 * who holds a taken one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/proc.h"
#include "internal.h"

#define STUB_READY 'R'
#define PID_REAP_WAIT_MS 5000 /* init reaps orphans only every ~2 s here */

/* Child side: closes every fd but a and b (a < b). */
static bool close_all_but(int a, int b)
{
	return (a == 0 || syscall(SYS_close_range, 0u, (unsigned)a - 1, 0u) == 0) &&
	       (b == a + 1 || syscall(SYS_close_range, (unsigned)a + 1, (unsigned)b - 1, 0u) == 0) &&
	       syscall(SYS_close_range, (unsigned)b + 1, ~0u, 0u) == 0;
}

/* The child runs raw syscalls only: ferry may have threads, and the child
 * of a multithreaded process must not take their locks. A failure is
 * reported as text over the pipe. */
__attribute__((noreturn)) static void stub_main(int hs, int chan)
{
	static const char cannot_close[] = "the restore stub cannot close ferry's fds (close_range failed)";
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL); /* until threads_restore loads the real masks */
	if (!close_all_but(MIN(hs, chan), MAX(hs, chan))) {
		if (write(hs, cannot_close, sizeof(cannot_close) - 1) < 0) {
			/* nothing more to say: the parent sees EOF */
		}
		_exit(1);
	}
	char ready = STUB_READY;
	if (write(hs, &ready, 1) != 1)
		_exit(1);
	close(hs);
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

int stub_wait_pid_free(pid_t pid, char *err, size_t errlen)
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

/* ferry's signal actions, which the stub inherits (clone copies them). One
 * that cannot be read is left all ones: it matches no saved action. */
static void inherited_sigactions(struct fr_sigaction *act)
{
	for (int sig = 1; sig <= FR_NSIG; sig++)
		if (syscall(SYS_rt_sigaction, sig, NULL, &act[sig - 1], sizeof(uint64_t)) < 0)
			memset(&act[sig - 1], 0xff, sizeof(act[sig - 1]));
}

/* Reads the child's one-byte "ready" or its reason for failing, up to EOF:
 * the child closes the pipe after its "ready", so once EOF is seen the stub
 * holds nothing but its end of the channel. */
static int read_ready(int hs, char *err, size_t errlen)
{
	char msg[256];
	size_t n = 0;
	for (;;) {
		ssize_t got = read(hs, msg + n, sizeof(msg) - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n == sizeof(msg) - 1)
			break;
	}
	if (n == 1 && msg[0] == STUB_READY)
		return 0;
	msg[n] = '\0';
	snprintf(err, errlen, "%s", n > 0 ? msg : "the restore stub died during set-up");
	return -EIO;
}

static int clone_stub(pid_t want, int hs[2], int chan[2], char *err, size_t errlen)
{
	struct clone_args ca = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
	fflush(NULL);
	long child = syscall(SYS_clone3, &ca, sizeof(ca));
	if (child == 0)
		stub_main(hs[1], chan[1]);
	if (child < 0) {
		int e = neg_errno();
		if (e == -EEXIST)
			explain_taken(want, err, errlen);
		else
			snprintf(err, errlen, "clone3 with pid %d failed: %s%s", want, strerror(-e),
				 e == -EPERM ? " (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)" : "");
		return e;
	}
	return (int)child;
}

int stub_spawn(pid_t pid, const struct restore_opts *opts, struct stub *stub, char *err, size_t errlen)
{
	*stub = (struct stub){.pid = -1, .chan_fd = -1, .stub_chan_fd = -1, .keep_fd = -1};
	int r = stub_wait_pid_free(pid, err, errlen);
	if (r < 0)
		return r;
	int hs[2], chan[2];
	if (pipe2(hs, O_CLOEXEC) < 0)
		return neg_errno();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0) {
		r = neg_errno();
		close(hs[0]), close(hs[1]);
		return r;
	}
	inherited_sigactions(stub->sigact);
	int child = clone_stub(pid, hs, chan, err, errlen);
	close(hs[1]);
	close(chan[1]); /* the stub has it, under the same number */
	if (child < 0) {
		close(hs[0]), close(chan[0]);
		return child;
	}
	stub->pid = child;
	stub->chan_fd = chan[0];
	stub->stub_chan_fd = chan[1];
	r = read_ready(hs[0], err, errlen);
	close(hs[0]);
	if (r < 0)
		stub_kill(stub);
	return r;
}

void stub_kill(struct stub *stub)
{
	if (stub->chan_fd >= 0)
		close(stub->chan_fd);
	stub->chan_fd = -1;
	if (stub->pid <= 0)
		return;
	/* Threads ferry traces must be reaped by it, one by one, before the
	 * leader's exit can be: waiting for the leader alone would hang. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", stub->pid);
	DIR *d = opendir(path);
	kill(stub->pid, SIGKILL);
	int status;
	for (struct dirent *e; d && (e = readdir(d));) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0 && tid != stub->pid)
			while (waitpid(tid, &status, __WALL) < 0 && errno == EINTR)
				;
	}
	if (d)
		closedir(d);
	while (waitpid(stub->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	stub->pid = -1;
}
