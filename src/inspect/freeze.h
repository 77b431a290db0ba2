/* freeze.h — stopping every thread of a live process with PTRACE_SEIZE +
 * PTRACE_INTERRUPT and letting it go again. A frozen thread sits in a
 * PTRACE_EVENT_STOP with its registers and signal mask untouched; signals
 * that arrive stay queued (the thread does not run to dequeue them). Remote
 * syscalls (rsys.h, exact mode) return each thread to that stop, so a ferry
 * killed at any moment leaves threads that resume exactly as they were. */
#ifndef FERRY_FREEZE_H
#define FERRY_FREEZE_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

struct frozen_thread {
	pid_t tid;
	struct user_regs_struct regs; /* as found when the thread stopped */
	uint64_t sigmask;             /* as found (the mask a pending sigsuspend/ppoll restores) */
	bool have_state;              /* regs and sigmask were read */
};

struct frozen_proc {
	pid_t pid;
	size_t nthreads;
	struct frozen_thread *threads; /* threads[0] is the leader */
};

/* Seizes and stops all threads. On failure nothing stays attached and
 * err says why in one line. */
int freeze_process(pid_t pid, struct frozen_proc *fp, char *err, size_t errlen);
/* Detaches every thread: the process runs on untouched. */
int thaw_process(struct frozen_proc *fp);
/* Kills a frozen process (after a successful dump). */
void kill_frozen(struct frozen_proc *fp);
void frozen_free(struct frozen_proc *fp);

/* Waits for tid to report a ptrace event stop; signal-delivery stops (of any
 * signal, SIGTRAP too) are passed on to the thread (so no signal is lost)
 * and waited past. Returns the wait status of the stop, or a negative errno
 * (-ESRCH if the thread died). */
int wait_ptrace_stop(pid_t tid);

#endif
