/* freeze.c — see freeze.h. */
#include "freeze.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "../common/log.h"
#include "../common/util.h"
#include "proc.h"

#define SEIZE_ROUNDS_MAX 64 /* re-list tasks until no new thread appears */

int wait_ptrace_stop(pid_t tid)
{
	for (;;) {
		int status;
		pid_t w = waitpid(tid, &status, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return neg_errno();
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status);
		int event = status >> 16;
		if (event != 0) /* PTRACE_EVENT_STOP and other events */
			return status;
		/* A signal-delivery stop, SIGTRAP included (ferry raises none:
		 * remote syscalls stop at syscall entry and exit): hand the signal
		 * back and wait for our stop. */
		pr_debug("tid %d: passing on signal %d while stopping", tid, sig);
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig) < 0)
			return neg_errno();
	}
}

static struct frozen_thread *find_thread(struct frozen_proc *fp, pid_t tid)
{
	for (size_t i = 0; i < fp->nthreads; i++)
		if (fp->threads[i].tid == tid)
			return &fp->threads[i];
	return NULL;
}

/* Lets every thread go. Registers go back only where they were read (a
 * remote syscall that failed half-way may have left others). The mask is
 * written only if it differs from the one found: PTRACE_SETSIGMASK also
 * drops the mask restore of a thread stopped in sigsuspend/ppoll. */
static void detach_all(struct frozen_proc *fp)
{
	for (size_t i = 0; i < fp->nthreads; i++) {
		struct frozen_thread *t = &fp->threads[i];
		uint64_t now;
		if (t->have_state) {
			ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs);
			if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(now), &now) == 0 && now != t->sigmask)
				ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(t->sigmask), &t->sigmask);
		}
		ptrace(PTRACE_DETACH, t->tid, 0, 0);
	}
}

static int seize_one(struct frozen_proc *fp, pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return neg_errno();
	struct frozen_thread *nt = realloc(fp->threads, (fp->nthreads + 1) * sizeof(*nt));
	if (!nt) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return -ENOMEM;
	}
	fp->threads = nt;
	fp->threads[fp->nthreads++] = (struct frozen_thread){.tid = tid};
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return neg_errno();
	int st = wait_ptrace_stop(tid);
	if (st < 0)
		return st;
	struct frozen_thread *t = &fp->threads[fp->nthreads - 1];
	if (ptrace(PTRACE_GETREGS, tid, 0, &t->regs) < 0 ||
	    ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(t->sigmask), &t->sigmask) < 0)
		return neg_errno();
	t->have_state = true;
	return 0;
}

int freeze_process(pid_t pid, struct frozen_proc *fp, char *err, size_t errlen)
{
	*fp = (struct frozen_proc){.pid = pid};
	if (pid == getpid()) {
		snprintf(err, errlen, "pid %d is ferry itself", pid);
		return -EINVAL;
	}
	struct proc_status st;
	int r = proc_read_status(pid, &st);
	if (r < 0) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return -ESRCH;
	}
	if (st.state == 'Z' || st.state == 'X') {
		snprintf(err, errlen, "pid %d is a zombie", pid);
		return -ESRCH;
	}
	if (st.tracer_pid) {
		snprintf(err, errlen, "pid %d is already traced by pid %d", pid, st.tracer_pid);
		return -EBUSY;
	}
	bool changed = true;
	for (int round = 0; changed && round < SEIZE_ROUNDS_MAX; round++) {
		changed = false;
		pid_t *tids;
		size_t n;
		r = proc_list_tasks(pid, &tids, &n);
		if (r < 0) {
			snprintf(err, errlen, "cannot list threads of pid %d: %s", pid, strerror(-r));
			goto fail;
		}
		/* The leader first, so threads[0] is always the leader. */
		for (size_t i = 0; i < n && r == 0; i++) {
			pid_t tid = i == 0 ? pid : (tids[i] == pid ? tids[0] : tids[i]);
			if (find_thread(fp, tid))
				continue;
			r = seize_one(fp, tid);
			if (r == -ESRCH && tid != pid) { /* the thread exited meanwhile */
				fp->nthreads--;
				r = 0;
				continue;
			}
			changed = true;
			if (r < 0)
				snprintf(err, errlen, "cannot stop thread %d of pid %d: %s%s", tid, pid, strerror(-r),
					 r == -EPERM ? " (ptrace refused: CAP_SYS_PTRACE, Yama or a protected process)" : "");
		}
		free(tids);
		if (r < 0)
			goto fail;
	}
	if (changed) {
		snprintf(err, errlen, "pid %d keeps creating threads; cannot freeze it", pid);
		r = -EAGAIN;
		goto fail;
	}
	pr_info("froze pid %d: %zu thread(s)", pid, fp->nthreads);
	return 0;
fail:
	detach_all(fp);
	frozen_free(fp);
	return r;
}

int thaw_process(struct frozen_proc *fp)
{
	detach_all(fp);
	return 0;
}

void kill_frozen(struct frozen_proc *fp)
{
	kill(fp->pid, SIGKILL);
	/* Collect the ptrace exit notifications so no traced zombie lingers on
	 * us. The leader's exit is reported only after every other thread's,
	 * so it goes last. */
	for (size_t i = fp->nthreads; i-- > 0;) {
		int status;
		while (waitpid(fp->threads[i].tid, &status, __WALL) > 0 && !WIFEXITED(status) && !WIFSIGNALED(status))
			;
	}
}

void frozen_free(struct frozen_proc *fp)
{
	free(fp->threads);
	fp->threads = NULL;
	fp->nthreads = 0;
}
