/* capture.h — reading everything but page contents out of a frozen process
 * into the state model: identity, mm fields, signal dispositions, threads
 * (registers, FPU, per-thread kernel state), mappings and the fd table.
 * Anything ferry cannot restore makes capture fail with a message naming
 * the fd or address range and its kind, before anything is changed. */
#ifndef FERRY_CAPTURE_H
#define FERRY_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../state/model.h"
#include "freeze.h"

struct vma_attr_list;
struct vma_attrs_check;
struct capture_opts {
	bool shell_job;       /* terminals are allowed (reattached on restore) */
	uint64_t ghost_limit; /* largest deleted file whose contents go into the image */
	bool checks_only;     /* precheck: the process runs; what files hold is not read */
	bool read_queues; /* read the data queued in pipes and sockets (the process is frozen) */
	const int *external; /* fds declared external (--external fd:N): recorded as FILE_EXTERNAL */
	size_t nexternal;
	struct vma_attr_list *attrs_early;    /* not NULL: read before the freeze, for capture_vma_attrs_early */
	struct vma_attrs_check **attrs_check; /* ...which puts its check here */
};
#define CAPTURE_GHOST_LIMIT_DEFAULT (1u << 20) /* 1 MiB, as criu's --ghost-limit */

int capture_process(struct frozen_proc *fp, const struct capture_opts *opts, struct fr_image *img, char *err,
		    size_t errlen);

/* The checks of what ferry can restore, each naming what it refuses: the
 * mappings (vmas.c) and the fd table (files.c). precheck.c runs
 * them on the running process, so a refusal comes before anything is
 * stopped; capture runs them again on the frozen one, since things change
 * between the two. live: the process runs, so an fd or mapping that vanishes
 * while it is read is skipped instead of failing. */
int capture_vmas(pid_t pid, bool live, struct fr_image *img, char *err, size_t errlen);
int capture_files(pid_t pid, const struct capture_opts *opts, struct fr_image *img, char *err, size_t errlen);
/* Ties each mapping of a memfd or deleted file to the record of its object
 * (vma_objects.c), adding one for an object no fd holds any more; after
 * capture_vmas and capture_files. */
int capture_vma_objects(pid_t pid, const struct capture_opts *opts, struct fr_image *img, char *err, size_t errlen);
/* Records the System V segments img's mappings attach (sysv_shm.c),
 * refusing one another process attaches too, or attached in part. */
int capture_sysv_shm(pid_t pid, struct fr_image *img, char *err, size_t errlen);
/* The segments of img that leave with the process when a dump or a
 * migration ends it here (not already removed; in ferry's own IPC
 * namespace, where their ids mean them): removed then, as the image or the
 * destination holds them now. */
struct sysv_moved {
	int32_t *ids;
	uint32_t n;
};
int sysv_shm_moving(pid_t pid, const struct fr_image *img, struct sysv_moved *out);
void sysv_shm_moved(const struct sysv_moved *m);
/* A pre-copy round's layout leaves those mappings and System V ones out:
 * they are mapped at the switch, once their objects are made (their pages
 * travel then). */
void vmas_drop_objects(struct fr_image *img);
/* The POSIX timers (posix_timers.c), with remote timer_gettime through rs,
 * whose scratch holds a struct itimerspec. */
struct rsys;
int capture_posix_timers(struct rsys *rs, pid_t pid, struct fr_image *img, char *err, size_t errlen);
/* The mlock / madvise attributes of img's mappings (vma_attrs.c). */
int capture_vma_attrs(pid_t pid, struct fr_image *img, char *err, size_t errlen);
/* Every mapping's attributes as one read of smaps found them, with the
 * layout they belong to: /proc/PID/maps as it was then. */
struct vma_attr {
	uint64_t start, end;
	uint32_t attrs;    /* FR_VMA_LOCKED... */
	bool uffd_missing; /* "um": registered on a userfaultfd for missing pages (not an attribute) */
};
struct vma_attr_list {
	struct vma_attr *v; /* sorted by start */
	size_t n;
	char *layout; /* smaps' header lines: the maps lines */
	size_t layout_len;
};
int vma_attrs_read(pid_t pid, struct vma_attr_list *out);
void vma_attrs_free(struct vma_attr_list *l);
/* Frozen: img's attributes from early (read while the process ran, taken
 * over and freed here) if the layout is still early's, and a check started
 * that reads smaps again meanwhile (*check); else read now (*check NULL). */
struct vma_attrs_check;
int capture_vma_attrs_early(pid_t pid, struct vma_attr_list *early, struct fr_image *img,
			    struct vma_attrs_check **check, char *err, size_t errlen);
/* Waits for the check and frees it: 0 if the attributes used still hold,
 * -ESTALE if the process changed them before it was frozen (err says so),
 * another -errno if smaps could not be read. */
int vma_attrs_check_end(struct vma_attrs_check *check, char *err, size_t errlen);
/* The locks held through the fds of img (file_locks.c), into img->locks. */
int capture_file_locks(pid_t pid, struct fr_image *img, char *err, size_t errlen);
/* Rewinds a syscall interrupted with -ERESTART* so it runs again on restore. */
void regs_prepare_for_restore(struct user_regs_struct *regs);

#endif
