/* capture.h — reading everything but page contents out of a frozen process
 * into the state model: identity, mm fields, signal dispositions, threads
 * (registers, FPU, per-thread kernel state), mappings and the fd table.
 * Anything ferry cannot restore makes capture fail with a message naming
 * the fd or address range and its kind, before anything is changed. */
#ifndef FERRY_CAPTURE_H
#define FERRY_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "../state/model.h"
#include "freeze.h"

struct capture_opts {
	bool shell_job; /* terminals are allowed (reattached on restore) */
	bool read_queues; /* read the data queued in pipes and sockets (the process is frozen) */
	const int *external; /* fds declared external (--external fd:N): recorded as FILE_EXTERNAL */
	size_t nexternal;
};

int capture_process(struct frozen_proc *fp, const struct capture_opts *opts, struct fr_image *img, char *err,
		    size_t errlen);

/* The checks of what ferry can restore, each naming what it refuses: the
 * mappings (vmas.c), the fd table (files.c), POSIX timers. precheck.c runs
 * them on the running process, so a refusal comes before anything is
 * stopped; capture runs them again on the frozen one, since things change
 * between the two. live: the process runs, so an fd or mapping that vanishes
 * while it is read is skipped instead of failing. */
int capture_vmas(pid_t pid, bool live, struct fr_image *img, char *err, size_t errlen);
int capture_files(pid_t pid, const struct capture_opts *opts, struct fr_image *img, char *err, size_t errlen);
int check_posix_timers(pid_t pid, char *err, size_t errlen);
/* Rewinds a syscall interrupted with -ERESTART* so it runs again on restore. */
void regs_prepare_for_restore(struct user_regs_struct *regs);

#endif
