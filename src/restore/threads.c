/* threads.c — the last phase of a restore: clone the other threads with
 * their tids (clone3 set_tid run inside the stub; PTRACE_O_TRACECLONE
 * attaches each one before it runs an instruction), load every thread's
 * per-thread kernel state (clear_child_tid, robust list, sigaltstack, rseq,
 * credentials, scheduling) and registers, then detach: the process runs. */
#include <errno.h>
#include <linux/elf.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "../common/compat.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/freeze.h"
#include "../inspect/rsys.h"
#include "internal.h"

#define THREAD_CLONE_FLAGS \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

static int clone_thread(struct stub *s, struct rsys *main_rs, pid_t tid, char *err, size_t errlen)
{
	uint64_t tid_slot = s->scratch + sizeof(struct clone_args);
	pid_t want = tid;
	struct clone_args ca = {.flags = THREAD_CLONE_FLAGS, .set_tid = tid_slot, .set_tid_size = 1};
	int r = remote_write(s->pid, s->scratch, &ca, sizeof(ca));
	if (r == 0)
		r = remote_write(s->pid, tid_slot, &want, sizeof(want));
	if (r < 0)
		return r;
	long got = rsys(main_rs, SYS_clone3, s->scratch, sizeof(ca), 0, 0, 0, 0);
	if (got != tid) {
		snprintf(err, errlen, "cannot create thread %d: %s", tid,
			 got == -EEXIST ? "the tid is taken" : strerror(got < 0 ? (int)-got : EINVAL));
		return got < 0 ? (int)got : -EINVAL;
	}
	int st = wait_ptrace_stop(tid);
	if (st < 0) {
		snprintf(err, errlen, "new thread %d did not stop: %s", tid, strerror(-st));
		return st;
	}
	return 0;
}

/* Per-thread kernel state set from inside the thread. */
static int thread_state(struct stub *s, const struct fr_image *img, const struct fr_thread *t, char *err,
			size_t errlen)
{
	const struct fr_process *p = &img->proc;
	struct rsys r;
	int ret = rsys_begin(&r, t->tid, s->sys_ip);
	if (ret < 0)
		return ret;
	const char *what = "set_tid_address";
	long e = rsys(&r, SYS_set_tid_address, t->clear_child_tid, 0, 0, 0, 0, 0);
	if (e >= 0 && t->robust_head) {
		what = "set_robust_list";
		e = rsys(&r, SYS_set_robust_list, t->robust_head, t->robust_len, 0, 0, 0, 0);
	}
	if (e >= 0 && !(t->ss_flags & SS_DISABLE)) {
		stack_t ss = {.ss_sp = (void *)(uintptr_t)t->ss_sp, .ss_size = t->ss_size,
			      .ss_flags = t->ss_flags & SS_AUTODISARM};
		what = "sigaltstack";
		e = remote_write(s->pid, s->scratch, &ss, sizeof(ss));
		if (e == 0)
			e = rsys(&r, SYS_sigaltstack, s->scratch, 0, 0, 0, 0, 0);
	}
	if (e >= 0 && t->comm[0]) { /* /proc/TID/comm is writable only from inside the process */
		what = "PR_SET_NAME";
		e = remote_write(s->pid, s->scratch, t->comm, sizeof(t->comm));
		if (e == 0)
			e = rsys(&r, SYS_prctl, PR_SET_NAME, s->scratch, 0, 0, 0, 0);
	}
	if (e >= 0 && t->rseq_addr) {
		what = "rseq";
		e = rsys(&r, SYS_rseq, t->rseq_addr, t->rseq_len, 0, t->rseq_sig, 0, 0);
	}
	/* Signals that were queued for this thread, queued again from inside
	 * (only the process itself may queue a siginfo with any si_code). */
	for (uint32_t i = 0; e >= 0 && i < t->npending; i++) {
		const uint8_t *si = t->pending + (size_t)i * FR_SIGINFO_SIZE;
		int sig;
		memcpy(&sig, si, sizeof(sig)); /* si_signo comes first */
		what = "rt_tgsigqueueinfo";
		e = remote_write(s->pid, s->scratch, si, FR_SIGINFO_SIZE);
		if (e == 0)
			e = rsys(&r, SYS_rt_tgsigqueueinfo, (uint64_t)s->pid, (uint64_t)t->tid, (uint64_t)sig, s->scratch, 0, 0);
	}
	/* Credentials last: dropping them ends our privileges in this thread. */
	if (e >= 0) {
		what = "setgroups";
		e = remote_write(s->pid, s->scratch, p->groups, p->ngroups * sizeof(*p->groups));
		if (e == 0)
			e = rsys(&r, SYS_setgroups, p->ngroups, s->scratch, 0, 0, 0, 0);
	}
	if (e >= 0) {
		what = "setresgid";
		e = rsys(&r, SYS_setresgid, p->gid[0], p->gid[1], p->gid[2], 0, 0, 0);
	}
	if (e >= 0) {
		rsys(&r, SYS_setfsgid, p->gid[3], 0, 0, 0, 0, 0); /* returns the old fsgid, never fails */
		what = "setresuid";
		e = rsys(&r, SYS_setresuid, p->uid[0], p->uid[1], p->uid[2], 0, 0, 0);
	}
	if (e >= 0)
		rsys(&r, SYS_setfsuid, p->uid[3], 0, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "thread %d: %s failed: %s", t->tid, what, strerror((int)-e));
		return (int)e;
	}
	struct sched_param sp = {.sched_priority = t->sched_priority};
	if (sched_setscheduler(t->tid, t->sched_policy, &sp) < 0 ||
	    setpriority(PRIO_PROCESS, (id_t)t->tid, t->nice) < 0)
		pr_warn("thread %d: cannot restore scheduling policy %d / nice %d: %s", t->tid, t->sched_policy,
			t->nice, strerror(errno));
	return 0;
}

/* Interval timers, armed last so they count from the moment the process
 * runs again (the time between dump and restore does not count). */
static int restore_itimers(struct stub *s, struct rsys *rs, const struct fr_process *p, char *err, size_t errlen)
{
	for (int which = 0; which < 3; which++) {
		const uint64_t *it = p->itimer[which];
		if (!it[2] && !it[3])
			continue; /* not armed */
		long e = remote_write(s->pid, s->scratch, it, sizeof(p->itimer[which]));
		if (e == 0)
			e = rsys(rs, SYS_setitimer, (uint64_t)which, s->scratch, 0, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot restore interval timer %d: %s", which, strerror((int)-e));
			return (int)e;
		}
	}
	return 0;
}

/* The parent-death signal, after the credentials (a change of them clears
 * it). The process's parent here is ferry: the signal is set only when
 * ferry stays until the process exits; with --detach, or after a
 * migration, ferry exits at once and the signal would kill it. */
static int restore_pdeathsig(struct stub *s, struct rsys *rs, int sig, char *err, size_t errlen)
{
	if (!sig)
		return 0;
	if (!s->parent_stays) {
		pr_warn("pid %d: its parent-death signal %d is not set again: its parent here is ferry, which does not "
			"stay", s->pid, sig);
		return 0;
	}
	long e = rsys(rs, SYS_prctl, PR_SET_PDEATHSIG, (uint64_t)sig, 0, 0, 0, 0);
	if (e < 0) {
		snprintf(err, errlen, "cannot set the parent-death signal %d again: %s", sig, strerror((int)-e));
		return (int)e;
	}
	return 0;
}

static int load_registers(const struct fr_thread *t, char *err, size_t errlen)
{
	struct iovec iov = {.iov_base = t->xstate, .iov_len = t->xstate_len};
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) < 0 ||
	    (t->xstate_len && ptrace(PTRACE_SETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov) < 0) ||
	    ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(t->sigmask), &t->sigmask) < 0) {
		snprintf(err, errlen, "thread %d: cannot load registers: %s", t->tid, strerror(errno));
		return neg_errno();
	}
	return 0;
}

int threads_restore(struct stub *s, const struct fr_image *img, char *err, size_t errlen)
{
	struct rsys main_rs;
	int r = rsys_begin(&main_rs, s->pid, s->sys_ip);
	for (uint32_t i = 1; r == 0 && i < img->nthreads; i++)
		r = clone_thread(s, &main_rs, img->threads[i].tid, err, errlen);
	if (r == 0)
		r = posix_timers_create(s, &main_rs, img, err, errlen);
	if (r == 0) /* before credentials are dropped: RLIMIT_MEMLOCK binds root less */
		r = mm_apply_attrs(&main_rs, img, err, errlen);
	for (uint32_t i = 0; r == 0 && i < img->proc.npending; i++) {
		const uint8_t *si = img->proc.pending + (size_t)i * FR_SIGINFO_SIZE;
		int sig;
		memcpy(&sig, si, sizeof(sig));
		r = remote_write(s->pid, s->scratch, si, FR_SIGINFO_SIZE);
		long e = r < 0 ? r : rsys(&main_rs, SYS_rt_sigqueueinfo, (uint64_t)s->pid, (uint64_t)sig, s->scratch, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot queue pending signal %d again: %s", sig, strerror((int)-e));
			r = (int)e;
		}
	}
	for (uint32_t i = 0; r == 0 && i < img->nthreads; i++)
		r = thread_state(s, img, &img->threads[i], err, errlen);
	if (r == 0) {
		long e = rsys(&main_rs, SYS_prctl, PR_SET_DUMPABLE, (uint64_t)img->proc.dumpable, 0, 0, 0, 0);
		if (e < 0)
			pr_warn("cannot restore dumpable=%d: %s", img->proc.dumpable, strerror((int)-e));
		r = restore_itimers(s, &main_rs, &img->proc, err, errlen);
	}
	if (r == 0)
		r = posix_timers_arm(s, &main_rs, img, err, errlen);
	if (r == 0)
		r = restore_pdeathsig(s, &main_rs, img->proc.pdeathsig, err, errlen);
	if (r == 0) {
		long e = rsys(&main_rs, SYS_munmap, s->scratch, s->scratch_len, 0, 0, 0, 0);
		if (e < 0) {
			snprintf(err, errlen, "cannot unmap the scratch area: %s", strerror((int)-e));
			r = (int)e;
		}
	}
	char path[64], val[16];
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", s->pid);
	snprintf(val, sizeof(val), "%d", img->proc.oom_score_adj);
	if (r == 0 && write_small_file(path, val) < 0)
		pr_warn("cannot restore oom_score_adj %d: %s", img->proc.oom_score_adj, strerror(errno));
	for (uint32_t i = 0; r == 0 && i < img->nthreads; i++)
		r = load_registers(&img->threads[i], err, errlen);
	return r;
}

int threads_release(const struct fr_image *img, char *err, size_t errlen)
{
	/* Let go: the other threads first, the leader last. */
	for (uint32_t i = img->nthreads; i-- > 0;)
		if (ptrace(PTRACE_DETACH, img->threads[i].tid, 0, 0) < 0 && errno != ESRCH) {
			snprintf(err, errlen, "cannot detach thread %d: %s", img->threads[i].tid, strerror(errno));
			return neg_errno();
		}
	return 0;
}
