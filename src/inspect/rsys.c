/* rsys.c — see rsys.h. */
#include "rsys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "freeze.h"
#include "proc.h"

#define RSYS_MAX_STOPS 16 /* event stops tolerated while one syscall runs (clone events) */

int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {.iov_base = (void *)buf, .iov_len = len};
	struct iovec rm = {.iov_base = (void *)addr, .iov_len = len};
	ssize_t w = process_vm_writev(pid, &l, 1, &rm, 1, 0);
	if (w < 0)
		return neg_errno();
	return (size_t)w == len ? 0 : -EFAULT;
}

int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {.iov_base = buf, .iov_len = len};
	struct iovec rm = {.iov_base = (void *)addr, .iov_len = len};
	ssize_t w = process_vm_readv(pid, &l, 1, &rm, 1, 0);
	if (w < 0)
		return neg_errno();
	return (size_t)w == len ? 0 : -EFAULT;
}

int rsys_find_syscall(pid_t pid, uint64_t *ip)
{
	struct proc_map *maps;
	size_t n;
	int r = proc_read_maps(pid, &maps, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(maps[i].name, "[vdso]") != 0)
			continue;
		size_t len = maps[i].end - maps[i].start;
		uint8_t *code = malloc(len);
		if (!code) {
			r = -ENOMEM;
			break;
		}
		r = remote_read(pid, maps[i].start, code, len);
		if (r == 0) {
			r = -ENOENT;
			for (size_t k = 0; k + 1 < len; k++)
				if (code[k] == 0x0f && code[k + 1] == 0x05) {
					*ip = maps[i].start + k;
					r = 0;
					break;
				}
		}
		free(code);
		break;
	}
	free(maps);
	return r;
}

/* All catchable signals blocked while an injected syscall runs, so that no
 * handler runs and no signal is dequeued under ferry's feet. */
#define RSYS_ALL_BLOCKED (~0ull & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1))))

static bool is_syscall_stop(int status) { return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80); }

static int wait_stop(pid_t tid, int *status)
{
	pid_t w;
	do
		w = waitpid(tid, status, __WALL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return neg_errno();
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		return -ESRCH;
	return 0;
}

/* Resumes tid with PTRACE_SYSCALL until its next syscall stop (entry or exit);
 * event stops on the way (a clone, a group stop) are stepped past. */
static int next_syscall_stop(pid_t tid)
{
	for (int stops = 0; stops < RSYS_MAX_STOPS; stops++) {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return neg_errno();
		int status, r = wait_stop(tid, &status);
		if (r < 0)
			return r;
		if (is_syscall_stop(status))
			return 0;
		if (WIFSTOPPED(status) && (status >> 16) == 0)
			return -EINTR; /* a signal-delivery stop: the mask should have made this impossible */
	}
	return -ETIMEDOUT;
}

int rsys_begin(struct rsys *r, pid_t tid, uint64_t syscall_ip)
{
	*r = (struct rsys){.tid = tid, .syscall_ip = syscall_ip};
	return ptrace(PTRACE_GETREGS, tid, 0, &r->saved) < 0 ? neg_errno() : 0;
}

int rsys_begin_exact(struct rsys *r, pid_t tid, uint64_t syscall_ip)
{
	int e = rsys_begin(r, tid, syscall_ip);
	if (e < 0)
		return e;
	r->exact = true;
	return ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(r->saved_mask), &r->saved_mask) < 0 ? neg_errno() : 0;
}

int rsys_end(struct rsys *r)
{
	if (r->exact)
		return 0; /* every call already put the thread back as it was */
	return ptrace(PTRACE_SETREGS, r->tid, 0, &r->saved) < 0 ? neg_errno() : 0;
}

/* Exact mode: after a call the thread sits in a syscall-exit stop. Put its
 * registers and mask back, then let it go one step to the PTRACE_EVENT_STOP
 * trap in the signal path (PTRACE_INTERRUPT + PTRACE_CONT run no user code:
 * the trap comes before any signal is dequeued). From that stop, a thread
 * whose tracer vanishes resumes exactly as an untraced one would, including
 * the restart of a syscall that the freeze interrupted. */
static int rollback(struct rsys *r)
{
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &r->saved) < 0 ||
	    ptrace(PTRACE_SETSIGMASK, r->tid, (void *)sizeof(r->saved_mask), &r->saved_mask) < 0 ||
	    ptrace(PTRACE_INTERRUPT, r->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
		return neg_errno();
	int st = wait_ptrace_stop(r->tid);
	if (st < 0)
		return st;
	return (st >> 16) == PTRACE_EVENT_STOP ? 0 : -EPROTO;
}

int rsys_call(struct rsys *r, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
	      uint64_t a5, uint64_t a6)
{
	struct user_regs_struct regs = r->saved;
	regs.rax = (uint64_t)nr;
	regs.orig_rax = (uint64_t)-1; /* no syscall-restart fixup on the way out of the stop */
	regs.rdi = a1, regs.rsi = a2, regs.rdx = a3, regs.r10 = a4, regs.r8 = a5, regs.r9 = a6;
	regs.rip = r->syscall_ip;
	uint64_t blocked = RSYS_ALL_BLOCKED;
	if (r->exact && ptrace(PTRACE_SETSIGMASK, r->tid, (void *)sizeof(blocked), &blocked) < 0)
		return neg_errno();
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &regs) < 0)
		return neg_errno();
	int e = next_syscall_stop(r->tid); /* entry */
	if (e == 0)
		e = next_syscall_stop(r->tid); /* exit */
	if (e == 0 && ptrace(PTRACE_GETREGS, r->tid, 0, &regs) < 0)
		e = neg_errno();
	/* also when the syscall moved the vDSO itself */
	if (e == 0 && regs.rip != r->syscall_ip + 2)
		e = -EFAULT;
	if (e == 0)
		*ret = (long)regs.rax;
	if (r->exact && e != -ESRCH) {
		int b = rollback(r);
		if (e == 0)
			e = b;
	}
	return e;
}

long rsys(struct rsys *r, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6)
{
	long ret;
	int e = rsys_call(r, &ret, nr, a1, a2, a3, a4, a5, a6);
	return e < 0 ? e : ret;
}

int rsys_scratch_map(struct rsys *r, uint64_t addr, size_t len)
{
	long a = rsys(r, SYS_mmap, addr, len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0), (uint64_t)-1, 0);
	if (a < 0 && a > -4096)
		return (int)a;
	r->scratch = (uint64_t)a;
	r->scratch_len = len;
	return 0;
}

int rsys_scratch_unmap(struct rsys *r)
{
	if (!r->scratch)
		return 0;
	long e = rsys(r, SYS_munmap, r->scratch, r->scratch_len, 0, 0, 0, 0);
	r->scratch = 0;
	return e < 0 ? (int)e : 0;
}

int rsys_take_uffd(struct rsys *r, pid_t pid, int flags, int keep_from, int *kept, int *uffd)
{
	long fd = rsys(r, SYS_userfaultfd, (uint64_t)flags, 0, 0, 0, 0, 0);
	if (fd < 0)
		return (int)fd;
	if (keep_from >= 0) { /* the process's own copy, out of the way of its fds */
		long k = rsys(r, SYS_fcntl, (uint64_t)fd, F_DUPFD_CLOEXEC, (uint64_t)keep_from, 0, 0, 0);
		if (k < 0) {
			rsys(r, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
			return (int)k;
		}
		*kept = (int)k;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int mine = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	int ret = mine < 0 ? neg_errno() : 0;
	if (pidfd >= 0)
		close(pidfd);
	long c = rsys(r, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	if (ret == 0 && c < 0) {
		close(mine);
		ret = (int)c;
	}
	if (ret == 0)
		*uffd = mine;
	return ret;
}
