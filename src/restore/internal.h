/* internal.h — the pieces of a restore, shared by the files of restore/
 * only: the stub (stub.c), the address space (mm.c), identity and files
 * (identity.c, files.c), threads (threads.c) and the page phase
 * (pages_in.c). restore.c runs them in order: files opened in ferry, stub
 * spawned and seized, memory built, pages in, identity applied, mm fields
 * set, threads recreated. */
#ifndef FERRY_RESTORE_INTERNAL_H
#define FERRY_RESTORE_INTERNAL_H

#include "image.h"
#include "restore.h"

/* A stub being built into the process (see stub.c). */
struct stub {
	pid_t pid;
	int chan_fd;      /* ferry's end of the fd-passing socketpair, -1 once identity_apply is done */
	int stub_chan_fd; /* the stub's end, by its fd number in the stub */
	uint64_t sys_ip;  /* a syscall instruction in the stub's (moved) vDSO */
	uint64_t scratch; /* scratch area in the stub */
	size_t scratch_len;
	struct fr_sigaction sigact[FR_NSIG]; /* the actions it inherited from ferry (index sig-1) */
	int keep_fd; /* an fd of the stub's that identity_apply leaves open (post-copy's uffd), or -1 */
	bool parent_stays; /* ferry waits for the process (restore_opts.parent_stays) */
	/* While the memory is built: ferry's fds of the image's files
	 * (identity_open_files), for the mappings of memfds and deleted files;
	 * NULL in pre-copy rounds, whose layouts have none. */
	const struct fr_image *files_img;
	const int *files;
};
/* Waits for pid to be free (a zombie of it may wait ~2 s to be reaped),
 * then forks the stub with that pid. It knows nothing of the image: all
 * signals blocked, no fd but its end of the channel; it pauses until
 * seized. */
int stub_spawn(pid_t pid, const struct restore_opts *opts, struct stub *stub, char *err, size_t errlen);
/* Kills and reaps the stub (if any) and closes ferry's end of its channel. */
void stub_kill(struct stub *stub);
/* -EEXIST with the reason if a running process holds pid, or a zombie of it
 * is not reaped in time; 0 once it is free. */
int stub_wait_pid_free(pid_t pid, char *err, size_t errlen);
/* Opens every FILE record in ferry (file_reopen + seek; ferry's own
 * terminal for a TTY), so a missing or swapped file fails before anything is
 * built. *fds has img->nfiles entries, -1 for records that share another's
 * description; free it with identity_close_files, also after an error of
 * identity_apply. */
int identity_open_files(const struct fr_image *img, const struct restore_opts *opts, int **fds, char *err,
			size_t errlen);
void identity_close_files(int *fds, uint32_t n);
/* Makes the seized stub, whose memory is built, this process: session and
 * process group, fds (passed from fds, then everything else closed), umask,
 * personality, cwd, rlimits, prctl flags, signal actions. Signals stay
 * blocked; credentials and masks are threads_restore's. */
struct rsys;
/* Passes ferry's fd to the stub, reopened with flags (O_RDONLY / O_RDWR),
 * outside identity_apply: *at is its number there, for the caller to close. */
int identity_lend_file(struct stub *s, struct rsys *r, int fd, int flags, long *at);
int identity_apply(struct stub *s, const struct fr_image *img, const struct restore_opts *opts, int *fds, char *err,
		   size_t errlen);
/* The System V segments a restore made (sysv_shm.c), removed if it fails. */
struct sysv_made {
	int32_t *ids;
	uint32_t n;
};
/* Makes img's segments with their ids, keys, sizes, modes and owners. */
int sysv_shm_make(const struct fr_image *img, struct sysv_made *made, char *err, size_t errlen);
/* Once every mapping is attached: removes again the segments the process
 * had removed (they go with their last detach). */
int sysv_shm_attached(const struct fr_image *img, char *err, size_t errlen);
/* A failed restore: removes every segment made. */
void sysv_shm_unmake(struct sysv_made *made);
/* A restore that succeeded: the segments are the process's now. */
void sysv_shm_forget(struct sysv_made *made);
int mm_rebuild(struct stub *stub, const struct fr_image *img, char *err, size_t errlen);
/* Follows a layout change (pre-copy): what `was` mapped and `now` does not
 * map the same way is unmapped, what `now` maps anew is mapped (layout.h);
 * kept ranges and their pages are left alone. The vDSO block must not move. */
int mm_update(struct stub *stub, const struct fr_image *was, const struct fr_image *now, char *err, size_t errlen);
/* Rebuilds as one mapping each private anonymous mapping of `now` that the
 * stub has in pieces; with `runs` (all pages in place), also each run of
 * adjacent private anonymous mappings with a read-only one holding data,
 * so that they merge when the process makes them alike (mm_join.c says
 * why). *joined counts the rebuilds. uffd (post-copy; -1: none): lazy
 * memory of a run rebuilt is unregistered for the rebuild (its mremap
 * would wait for an event no one reads yet) and registered again. */
int mm_join(struct stub *stub, const struct fr_image *now, bool runs, int uffd, uint32_t *joined, char *err,
	    size_t errlen);
/* Gives the mappings built with another protection (mm.c: build_prot)
 * their saved one, once the pages are in. */
int mm_protect(struct stub *stub, const struct fr_image *img, char *err, size_t errlen);
/* MADV_DONTNEED on [addr, addr + len): private memory reads as fresh again. */
int mm_discard(struct stub *stub, uint64_t addr, uint64_t len);
int mm_set_map(struct stub *stub, const struct fr_image *img, char *err, size_t errlen);
/* A userfaultfd for the stub's mm, created inside it (so it is bound to its
 * final mm), taken with pidfd_getfd. Its copy in the stub is closed, or with
 * keep_from >= 0 moved to the lowest free fd >= keep_from (stub->keep_fd),
 * which the process keeps (post-copy). */
int mm_open_uffd(struct stub *stub, int keep_from, int *uffd);
/* Opens the path of a FILE record (not a TTY, not a shared one) with its
 * flags after checking that the node there is of the recorded kind: a
 * FIFO, socket or device where a regular file was recorded is refused
 * (-EINVAL) without being opened. *out is a new O_CLOEXEC fd. */
int file_reopen(const struct fr_file *f, int *out, char *err, size_t errlen);
struct rsys;
/* mlock / madvise attributes of every mapping (mm_attrs.c), once the pages
 * are in; rs drives the stub's main thread. */
int mm_apply_attrs(struct rsys *rs, const struct fr_image *img, char *err, size_t errlen);
/* POSIX timers (posix_timers.c): made with their ids once the threads
 * exist, armed last; rs drives the stub's main thread. */
int posix_timers_create(struct stub *s, struct rsys *rs, const struct fr_image *img, char *err, size_t errlen);
int posix_timers_arm(struct stub *s, struct rsys *rs, const struct fr_image *img, char *err, size_t errlen);
/* Everything of the threads but letting them go: after it, every thread is
 * complete and ptrace-stopped. */
int threads_restore(struct stub *stub, const struct fr_image *img, char *err, size_t errlen);
/* Detaches every thread: the process runs. */
int threads_release(const struct fr_image *img, char *err, size_t errlen);
/* A pre-copy round's PAGES and DISCARD records, from the one in hand to
 * its ROUND_END, into the stub laid out as `layout`; adds to st's counts. */
int restore_round_pages(struct fr_stream *s, struct stub *stub, const struct fr_image *layout, uint16_t type,
			const uint8_t *p, uint32_t len, struct restore_stats *st, char *err, size_t errlen);
/* Places REC_PAGES (and DISCARD) records, starting with the one in hand, until DONE.
 * uffd (or -1) is consumed; st gets the page counts and the path taken. */
/* Post-copy: the LAZY records from the one in hand (*type, *p, *len) on,
 * added to lazy; the first other record is left in hand. */
int restore_read_lazy(struct fr_stream *s, const struct fr_image *img, uint16_t *type, const uint8_t **p,
		      uint32_t *len, struct range_list *lazy, char *err, size_t errlen);
/* MADV_DONTNEED on the ranges of l inside the stub, a few hundred per
 * remote syscall (process_madvise on itself). */
int mm_drop(struct stub *stub, const struct range_list *l, char *err, size_t errlen);
/* Post-copy: one byte written in the first lazy page of each mapping, so
 * that the mapping has its anon_vma before the process runs; those pages
 * are added to primed, for mm_drop to take back. Without it, a lazy mapping the process splits (mprotect a
 * piece and back) before a page landed in it gets one anon_vma per piece
 * from the UFFDIO_COPYs that fill them, and the pieces never merge again:
 * a later mremap of the whole mapping fails with EFAULT. */
int mm_prime_lazy(struct stub *stub, const struct fr_image *img, const struct range_list *lazy,
		  struct range_list *primed, char *err, size_t errlen);
int restore_pages(struct fr_stream *s, struct stub *stub, int uffd, const struct fr_image *img, uint16_t type,
		  const uint8_t *p, uint32_t len, struct restore_lazy *lazy, struct restore_stats *st, char *err,
		  size_t errlen);

#endif
