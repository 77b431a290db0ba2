/* rsys.h — remote syscalls: run a syscall inside a ptrace-stopped thread.
 *
 * The thread's registers are saved, rax/args are loaded, rip points at a
 * `syscall` instruction found in the target's [vdso] (no code is written),
 * orig_rax = -1 so an interrupted syscall's restart fixup does not rewind
 * rip, and PTRACE_SYSCALL runs it from its entry stop to its exit stop,
 * where rax is the result. No trap flag and no SIGTRAP is ever involved, so
 * nothing is left for the thread to trip over if ferry dies (threads must be
 * seized with PTRACE_O_TRACESYSGOOD).
 *
 * Two modes:
 * - rsys_begin (a restore stub): calls follow each other from syscall stop
 *   to syscall stop; rsys_end puts the saved registers back.
 * - rsys_begin_exact (a live process being dumped or migrated): every call
 *   runs with all signals blocked, then puts registers and mask back and
 *   returns the thread to a PTRACE_EVENT_STOP. Between calls the thread is
 *   exactly as frozen: if ferry is killed there, it resumes as if it had
 *   never been touched.
 *
 * Data a syscall needs (paths, structs) lives in a scratch page mapped in
 * the target (rsys_scratch_*) or, for small results in exact mode, below the
 * thread's stack red zone (rsys_stack_scratch). */
#ifndef FERRY_RSYS_H
#define FERRY_RSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct rsys {
	pid_t tid;
	uint64_t syscall_ip;           /* address of a 0f 05 in the target */
	struct user_regs_struct saved; /* registers to put back at rsys_end */
	uint64_t scratch;              /* address of the scratch area in the target, or 0 */
	size_t scratch_len;
	bool exact;                    /* roll back to an event stop after each call */
	uint64_t saved_mask;           /* exact mode: the thread's signal mask */
};

/* Finds the offset of a `syscall` instruction inside the [vdso] of pid. */
int rsys_find_syscall(pid_t pid, uint64_t *ip);
/* Saves tid's registers; the thread must be in a ptrace stop. */
int rsys_begin(struct rsys *r, pid_t tid, uint64_t syscall_ip);
/* Same for a thread frozen in a PTRACE_EVENT_STOP that must be left exactly
 * as it is between calls (see above). */
int rsys_begin_exact(struct rsys *r, pid_t tid, uint64_t syscall_ip);
/* Runs syscall nr; *ret is what the syscall returned (-errno on failure).
 * The function itself returns 0, or a negative errno if ptrace failed
 * (-ESRCH: the thread died). */
int rsys_call(struct rsys *r, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
	      uint64_t a5, uint64_t a6);
/* Like rsys_call but returns the syscall's own result (or the ptrace error). */
long rsys(struct rsys *r, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
/* Puts the saved registers back (exact mode: nothing left to do). */
int rsys_end(struct rsys *r);
/* len bytes of the thread's stack below its red zone, free by the x86_64 ABI
 * (signal frames go there too): room for small syscall results without
 * mapping anything in the target. */
static inline uint64_t rsys_stack_scratch(const struct rsys *r, size_t len)
{
	enum { RED_ZONE = 128, STACK_ALIGN = 64 };
	return (r->saved.rsp - RED_ZONE - len) & ~(uint64_t)(STACK_ALIGN - 1);
}

/* Creates a userfaultfd inside the target (flags as for userfaultfd(2)) and
 * takes it into ferry with pidfd_getfd; the target's own copy is closed at
 * once, so if ferry dies the kernel drops whatever ferry registered; unless
 * keep_from >= 0: then the target keeps a copy at the lowest free fd >=
 * keep_from (*kept), and a dead ferry leaves its faults waiting. *uffd is
 * ferry's fd, before UFFDIO_API. */
int rsys_take_uffd(struct rsys *r, pid_t pid, int flags, int keep_from, int *kept, int *uffd);

/* Scratch memory in the target: map one shared anonymous area (never merges
 * with the target's own mappings) at addr (0 = anywhere) or unmap it. */
int rsys_scratch_map(struct rsys *r, uint64_t addr, size_t len);
int rsys_scratch_unmap(struct rsys *r);
/* Copy to / from the target at an address (process_vm_writev/readv). */
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif
