/* precheck.h — refusing, before anything is stopped, a process ferry could
 * not restore: everything README lists as not supported yet that /proc
 * shows on a running process. dump runs it before freeze_process(), so a
 * refusal never pauses the process (and never hangs on a vfork parent,
 * which ptrace cannot stop until its child lets go of the memory). */
#ifndef FERRY_PRECHECK_H
#define FERRY_PRECHECK_H

#include <stddef.h>
#include <sys/types.h>

#include "capture.h"

/* 0 if nothing seen rules pid out; else a negative errno (-EOPNOTSUPP for
 * an unsupported feature, -ESRCH, ...) and err says why in one line. Checks,
 * in order: the process exists and is not ferry; its address space is its
 * own (no vfork child or CLONE_VM sibling); every fd and mapping is of a
 * kind capture accepts (the same checks, files.c and vmas.c); no POSIX
 * timers; no child processes; no other process uses its pid as process
 * group or session id (process trees). If live is not NULL, it receives the
 * fds and mappings read on the way (the caller frees it with fr_image_free;
 * it is left empty on failure). */
int precheck_process(pid_t pid, const struct capture_opts *opts, struct fr_image *live, char *err, size_t errlen);

#endif
