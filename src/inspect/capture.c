/* capture.c — process-wide and per-thread state of a frozen process (see
 * capture.h). Mappings are in vmas.c, the fd table in files.c. */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/elf.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/ptrace.h>

#include "../common/compat.h"
#include "../common/log.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "proc.h"
#include "rsys.h"

#define XSTATE_BUF_MAX (64u << 10) /* larger than any XSAVE area (AVX-512 + AMX ~ 11 KiB) */
#define KSIGACTION_SIZE 32        /* struct kernel_sigaction on x86_64 */
#define SIGSET_BYTES 8
#define CAPTURE_SCRATCH_BYTES 64 /* the largest result read back: a kernel_sigaction, an itimerval or itimerspec */

/* -ERESTART* values the kernel leaves in rax of a thread stopped inside a syscall. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

void regs_prepare_for_restore(struct user_regs_struct *regs)
{
	long rax = (long)regs->rax;
	if ((long)regs->orig_rax >= 0 && (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND ||
					  rax == -ERESTART_RESTARTBLOCK)) {
		/* Run the same syscall again with its original arguments. For the
		 * restart-block kind (nanosleep, poll, futex with timeout) the kernel's
		 * remaining-time record does not survive, so the full timeout restarts. */
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
	}
	regs->orig_rax = (uint64_t)-1;
}

static int read_link(const char *path, char **out)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return neg_errno();
	buf[n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

/* The working directory; one that was removed is recorded by its old path
 * and its mode (it was empty: rmdir takes nothing else). */
static int capture_cwd(pid_t pid, struct fr_process *p)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	int r = read_link(path, &p->cwd);
	if (r < 0)
		return r;
	const char *suffix = " (deleted)";
	size_t n = strlen(p->cwd), sl = strlen(suffix);
	struct stat st;
	if (n > sl && strcmp(p->cwd + n - sl, suffix) == 0 && stat(path, &st) == 0 && st.st_nlink == 0) {
		p->cwd[n - sl] = '\0';
		p->cwd_deleted = (uint32_t)(S_IFDIR | (st.st_mode & 07777));
	}
	return 0;
}

static int capture_identity(pid_t pid, struct fr_process *p, const struct proc_status *st, char *err, size_t errlen)
{
	char path[64];
	struct proc_stat ps;
	int r = proc_read_stat(pid, 0, &ps);
	if (r < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/stat: %s", pid, strerror(-r));
		return r;
	}
	p->pid = pid;
	p->pgid = ps.pgrp;
	p->sid = ps.session;
	memcpy(p->uid, st->uid, sizeof(p->uid));
	memcpy(p->gid, st->gid, sizeof(p->gid));
	if (st->ngroups > ARRAY_SIZE(st->groups)) {
		snprintf(err, errlen, "pid %d has %u supplementary groups; ferry keeps at most %zu", pid, st->ngroups,
			 ARRAY_SIZE(st->groups));
		return -E2BIG;
	}
	p->ngroups = st->ngroups;
	p->groups = calloc(st->ngroups + 1, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	memcpy(p->groups, st->groups, st->ngroups * sizeof(*p->groups));
	p->umask = st->umask;
	p->no_new_privs = st->no_new_privs;
	p->thp_disable = !st->thp_enabled;
	p->nthreads = 0;

	struct fr_mm *m = &p->mm;
	m->start_code = ps.start_code, m->end_code = ps.end_code, m->start_stack = ps.start_stack;
	m->start_data = ps.start_data, m->end_data = ps.end_data, m->start_brk = ps.start_brk;
	m->arg_start = ps.arg_start, m->arg_end = ps.arg_end, m->env_start = ps.env_start, m->env_end = ps.env_end;

	_cleanup_free_ char *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	if ((r = read_small_file(path, &text, &len)) < 0)
		goto io;
	m->auxv_words = (uint32_t)MIN(len / sizeof(uint64_t), (size_t)FR_MAX_AUXV);
	memcpy(m->auxv, text, m->auxv_words * sizeof(uint64_t));
	free(text);
	text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/personality", pid);
	if ((r = read_small_file(path, &text, NULL)) < 0)
		goto io;
	p->personality = (uint32_t)strtoul(text, NULL, 16);
	free(text);
	text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	if ((r = read_small_file(path, &text, NULL)) < 0)
		goto io;
	p->oom_score_adj = atoi(text);
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if ((r = capture_cwd(pid, p)) < 0)
		goto io;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if ((r = read_link(path, &m->exe)) < 0)
		goto io;
	if ((r = proc_read_limits(pid, p->rlim, FR_NLIMITS)) < 0)
		goto io;
	return 0;
io:
	snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
	return r;
}

/* Process-wide state only a syscall inside the target can tell. */
static int capture_via_rsys(struct rsys *rs, struct fr_process *p, const struct proc_status *st)
{
	long v = rsys(rs, SYS_brk, 0, 0, 0, 0, 0, 0);
	if (v < 0)
		return (int)v;
	p->mm.brk = (uint64_t)v;
	stall_point("capture-rsys"); /* between two remote syscalls */
	uint64_t want = st->sig_caught | st->sig_ignored;
	for (int sig = 1; sig <= FR_NSIG; sig++) {
		if (!(want & (1ull << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP)
			continue;
		long e = rsys(rs, SYS_rt_sigaction, (uint64_t)sig, 0, rs->scratch, SIGSET_BYTES, 0, 0);
		if (e < 0)
			return (int)e;
		int r = remote_read(rs->tid, rs->scratch, &p->sigact[sig - 1], KSIGACTION_SIZE);
		if (r < 0)
			return r;
	}
	for (int which = 0; which < 3; which++) { /* remaining time, counted on from the restore */
		long e = rsys(rs, SYS_getitimer, (uint64_t)which, rs->scratch, 0, 0, 0, 0);
		if (e < 0)
			return (int)e;
		int r = remote_read(rs->tid, rs->scratch, p->itimer[which], sizeof(p->itimer[which]));
		if (r < 0)
			return r;
	}
	/* membarrier registrations (Linux 6.3+: GET_REGISTRATIONS; before, none can be seen) */
	v = rsys(rs, SYS_membarrier, FERRY_MEMBARRIER_GET_REGISTRATIONS, 0, 0, 0, 0, 0);
	if (v < 0 && v != -EINVAL)
		return (int)v;
	p->membarrier = v > 0 ? (uint32_t)v & FR_MEMBARRIER_REGISTRATIONS : 0;
	v = rsys(rs, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0, 0);
	if (v < 0)
		return (int)v;
	p->dumpable = (int32_t)v;
	if ((v = rsys(rs, SYS_prctl, PR_GET_CHILD_SUBREAPER, rs->scratch, 0, 0, 0, 0)) < 0)
		return (int)v;
	int r = remote_read(rs->tid, rs->scratch, &p->child_subreaper, sizeof(int32_t));
	if (r < 0 || (v = rsys(rs, SYS_prctl, PR_GET_PDEATHSIG, rs->scratch, 0, 0, 0, 0)) < 0)
		return r < 0 ? r : (int)v;
	return remote_read(rs->tid, rs->scratch, &p->pdeathsig, sizeof(int32_t));
}

/* Queued signals of one thread (or, with PTRACE_PEEKSIGINFO_SHARED, of the
 * whole process). They stay queued while frozen: every signal is blocked. */
static int capture_pending(pid_t tid, uint32_t flags, uint32_t *n, uint8_t **out)
{
	enum { BATCH = 64 };
	*n = 0;
	*out = NULL;
	for (;;) {
		uint8_t *grown = realloc(*out, (size_t)(*n + BATCH) * FR_SIGINFO_SIZE);
		if (!grown)
			return -ENOMEM;
		*out = grown;
		struct ptrace_peeksiginfo_args a = {.off = *n, .flags = flags, .nr = BATCH};
		long got = ptrace(PTRACE_PEEKSIGINFO, tid, &a, *out + (size_t)*n * FR_SIGINFO_SIZE);
		if (got < 0)
			return neg_errno();
		*n += (uint32_t)got;
		if (got < BATCH)
			break;
		if (*n >= FR_MAX_PENDING)
			return -E2BIG;
	}
	if (*n == 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

static int capture_thread(struct frozen_thread *ft, uint64_t syscall_ip, struct fr_thread *t)
{
	t->tid = ft->tid;
	t->regs = ft->regs;
	regs_prepare_for_restore(&t->regs);
	t->sigmask = ft->sigmask;
	int pr = capture_pending(ft->tid, 0, &t->npending, &t->pending);
	if (pr < 0)
		return pr;

	uint8_t *xs = malloc(XSTATE_BUF_MAX);
	if (!xs)
		return -ENOMEM;
	struct iovec iov = {.iov_base = xs, .iov_len = XSTATE_BUF_MAX};
	if (ptrace(PTRACE_GETREGSET, ft->tid, (void *)NT_X86_XSTATE, &iov) < 0) {
		free(xs);
		return neg_errno();
	}
	t->xstate_len = (uint32_t)iov.iov_len;
	t->xstate = realloc(xs, iov.iov_len) ?: xs;

	struct ferry_rseq_config rc = {0};
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, ft->tid, (void *)sizeof(rc), &rc) > 0 && rc.rseq_abi_pointer) {
		t->rseq_addr = rc.rseq_abi_pointer;
		t->rseq_len = rc.rseq_abi_size;
		t->rseq_sig = rc.signature;
	}
	struct robust_list_head *head;
	size_t hlen;
	if (syscall(SYS_get_robust_list, ft->tid, &head, &hlen) == 0) {
		t->robust_head = (uint64_t)(uintptr_t)head;
		t->robust_len = hlen;
	}
	struct sched_param sp;
	t->sched_policy = sched_getscheduler(ft->tid);
	if (t->sched_policy < 0 || sched_getparam(ft->tid, &sp) < 0)
		return neg_errno();
	t->sched_priority = sp.sched_priority;
	errno = 0;
	t->nice = getpriority(PRIO_PROCESS, (id_t)ft->tid);
	if (errno)
		return neg_errno();

	char path[64];
	_cleanup_free_ char *comm = NULL;
	snprintf(path, sizeof(path), "/proc/%d/comm", ft->tid);
	if (read_small_file(path, &comm, NULL) == 0) {
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
	}

	/* sigaltstack and clear_child_tid are per thread: ask inside the thread. */
	struct rsys rs;
	int r = rsys_begin_exact(&rs, ft->tid, syscall_ip);
	if (r < 0)
		return r;
	uint64_t scratch = rsys_stack_scratch(&rs, sizeof(stack_t));
	long v = rsys(&rs, SYS_sigaltstack, 0, scratch, 0, 0, 0, 0);
	if (v >= 0) {
		stack_t ss;
		r = remote_read(ft->tid, scratch, &ss, sizeof(ss));
		t->ss_sp = (uint64_t)(uintptr_t)ss.ss_sp;
		t->ss_size = ss.ss_size;
		t->ss_flags = ss.ss_flags;
	}
	if (r == 0 && v >= 0)
		v = rsys(&rs, SYS_prctl, PR_GET_TID_ADDRESS, scratch, 0, 0, 0, 0);
	if (r == 0 && v >= 0)
		r = remote_read(ft->tid, scratch, &t->clear_child_tid, sizeof(t->clear_child_tid));
	int e = rsys_end(&rs);
	if (v < 0)
		return (int)v;
	return r ? r : e;
}

int capture_process(struct frozen_proc *fp, const struct capture_opts *opts, struct fr_image *img, char *err,
		    size_t errlen)
{
	pid_t pid = fp->pid;
	*img = (struct fr_image){0};
	struct proc_status st;
	int r = proc_read_status(pid, &st);
	if (r < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/status: %s", pid, strerror(-r));
		return r;
	}
	if ((r = capture_identity(pid, &img->proc, &st, err, errlen)) < 0)
		return r;

	uint64_t sys_ip;
	if ((r = rsys_find_syscall(pid, &sys_ip)) < 0) {
		snprintf(err, errlen, "pid %d has no usable [vdso] for remote syscalls", pid);
		return r;
	}
	/* Exact mode and results below the stack: nothing is mapped in the
	 * target, and a ferry killed between two calls leaves it as it was. */
	struct rsys rs;
	if ((r = rsys_begin_exact(&rs, pid, sys_ip)) < 0)
		goto rsys_fail;
	rs.scratch = rsys_stack_scratch(&rs, CAPTURE_SCRATCH_BYTES);
	r = capture_via_rsys(&rs, &img->proc, &st);
	if (r == 0 && (r = capture_posix_timers(&rs, pid, img, err, errlen)) < 0) {
		rsys_end(&rs);
		return r;
	}
	rsys_end(&rs);
	img->threads = calloc(fp->nthreads, sizeof(*img->threads));
	if (!img->threads && r == 0)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < fp->nthreads; i++) {
		r = capture_thread(&fp->threads[i], sys_ip, &img->threads[i]);
		img->nthreads = (uint32_t)i + 1;
	}
	if (r < 0)
		goto rsys_fail;
	img->proc.nthreads = img->nthreads;
	if ((r = capture_pending(pid, PTRACE_PEEKSIGINFO_SHARED, &img->proc.npending, &img->proc.pending)) < 0) {
		snprintf(err, errlen, "cannot read the pending signals of pid %d: %s", pid, strerror(-r));
		return r;
	}

	if ((r = capture_vmas(pid, false, img, err, errlen)) < 0)
		return r;
	r = opts->attrs_early ? capture_vma_attrs_early(pid, opts->attrs_early, img, opts->attrs_check, err, errlen)
			      : capture_vma_attrs(pid, img, err, errlen);
	if (r < 0)
		return r;
	struct capture_opts frozen = *opts;
	frozen.read_queues = true; /* frozen: what is queued in pipes and sockets stays put */
	if ((r = capture_files(pid, &frozen, img, err, errlen)) < 0)
		return r;
	if ((r = capture_vma_objects(pid, &frozen, img, err, errlen)) < 0)
		return r;
	return capture_sysv_shm(pid, img, err, errlen);
rsys_fail:
	snprintf(err, errlen, "cannot query pid %d with remote syscalls: %s", pid, strerror(-r));
	return r;
}
