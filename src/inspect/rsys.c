/* rsys.c — see rsys.h. */
#include "rsys.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../common/util.h"
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

int rsys_begin(struct rsys *r, pid_t tid, uint64_t syscall_ip)
{
	*r = (struct rsys){.tid = tid, .syscall_ip = syscall_ip};
	return ptrace(PTRACE_GETREGS, tid, 0, &r->saved) < 0 ? neg_errno() : 0;
}

int rsys_end(struct rsys *r) { return ptrace(PTRACE_SETREGS, r->tid, 0, &r->saved) < 0 ? neg_errno() : 0; }

int rsys_call(struct rsys *r, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
	      uint64_t a5, uint64_t a6)
{
	struct user_regs_struct regs = r->saved;
	regs.rax = (uint64_t)nr;
	regs.orig_rax = (uint64_t)-1;
	regs.rdi = a1, regs.rsi = a2, regs.rdx = a3, regs.r10 = a4, regs.r8 = a5, regs.r9 = a6;
	regs.rip = r->syscall_ip;
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &regs) < 0)
		return neg_errno();
	for (int stops = 0; stops < RSYS_MAX_STOPS; stops++) {
		if (ptrace(PTRACE_SINGLESTEP, r->tid, 0, 0) < 0)
			return neg_errno();
		int status;
		pid_t w;
		do
			w = waitpid(r->tid, &status, __WALL);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			return neg_errno();
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status))
			continue;
		if ((status >> 16) != 0 || WSTOPSIG(status) != SIGTRAP)
			continue; /* an event (clone) or a stop for a signal: step on */
		if (ptrace(PTRACE_GETREGS, r->tid, 0, &regs) < 0)
			return neg_errno();
		if (regs.rip == r->syscall_ip + 2) { /* also when the syscall moved the vDSO itself */
			*ret = (long)regs.rax;
			return 0;
		}
		return -EFAULT; /* stepped somewhere unexpected */
	}
	return -ETIMEDOUT;
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
