/* restore.h — rebuilding a process from a stream (image file or socket).
 * The files of the image are opened in ferry first (a missing one fails
 * before anything is built). Then a stub child is made with clone3(set_tid)
 * so it gets the old pid; it knows nothing of the image, blocks every signal
 * and keeps no fd but one end of a socketpair. ferry seizes it and drives
 * it with remote syscalls: vDSO moved back, old mappings replaced by the
 * saved ones, pages written in any order; then its identity (session, fds
 * passed over the socketpair, umask, personality, cwd, rlimits, prctl,
 * signal actions), mm fields, threads cloned with their tids, registers and
 * per-thread state loaded, credentials dropped, and let go.
 * On any failure the stub is killed and reaped and ferry's copies of the
 * files are closed: nothing is left behind. */
#ifndef FERRY_RESTORE_H
#define FERRY_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../state/model.h"
#include "../state/layout.h"
#include "../state/stream.h"

struct restore_opts {
	bool shell_job; /* reattach terminal fds to ferry's own terminal */
	bool no_uffd;   /* write pages without a userfaultfd (to test that path) */
	bool header_read; /* the caller has read the preamble and HELLO itself */
	bool lazy;        /* post-copy: LAZY records name pages that come after the start */
};

/* Post-copy: what the restored process still lacks and how to fill it. The
 * lazy mappings stay registered (MISSING) on uffd; the process holds a copy
 * of that userfaultfd as its fd proc_fd, so that if ferry dies its faults
 * wait instead of reading zeros (restore_lazy_done closes it). */
struct restore_lazy {
	int uffd;
	int proc_fd;
	struct range_list pages; /* sorted: the pages with data at the source */
};

/* How pages of private writable anonymous memory (nearly all of them) land
 * in the new process: UFFDIO_COPY into never-touched pages, or
 * process_vm_writev when no userfaultfd could be set up. */
enum pages_path { PAGES_PATH_UFFDIO_COPY, PAGES_PATH_PROCESS_VM_WRITEV };
#define PAGES_PATH_WHY_MAX 160

struct restore_stats {
	/* t_threads_ms is everything after the pages; t_identity_ms is its first part */
	double t_read_meta_ms, t_stub_ms, t_mm_ms, t_pages_ms, t_identity_ms, t_threads_ms, t_total_ms;
	uint64_t pages, page_bytes, records;
	/* per path (they sum to pages); /proc/PID/mem takes read-only and
	 * shared mappings whatever the path */
	uint64_t pages_uffdio_copy, pages_process_vm_writev, pages_proc_mem;
	enum pages_path pages_path;
	char pages_path_why[PAGES_PATH_WHY_MAX]; /* why not UFFDIO_COPY, or "" */
	uint32_t mappings_rebuilt; /* mm_join's rebuilds once the pages were in */
	uint64_t pages_lazy;       /* post-copy: pages left to come after the start */
};
const char *pages_path_name(enum pages_path p);
/* The stats as JSON members ("total_ms":..., ... "pages_path_why":"..."),
 * without braces: `ferry restore --stats` and `ferry receive --stats-json`
 * wrap them with their own. */
void restore_stats_json(FILE *f, const struct restore_stats *st);

/* A migration restores in two steps around its commit point (DESIGN.md,
 * "Switchover"): prepare reads the whole stream and builds the process
 * completely, every thread ptrace-stopped; commit lets it run; abort kills
 * and reaps it (nothing is left behind). Both free rp. */
struct restore_prepared;
int restore_prepare(struct fr_stream *s, const struct restore_opts *opts, struct restore_prepared **rp,
		    struct restore_stats *st, char *err, size_t errlen);
int restore_commit(struct restore_prepared *rp, pid_t *pid, char *err, size_t errlen);
void restore_abort(struct restore_prepared *rp);
/* Post-copy, before restore_commit: takes what the process still lacks. */
void restore_take_lazy(struct restore_prepared *rp, struct restore_lazy *out);
void restore_lazy_free(struct restore_lazy *l);
/* Post-copy, every page in place: the process's copy of the userfaultfd is
 * closed inside it (frozen for that syscall), then ferry's, which
 * unregisters the lazy mappings; l is freed either way. */
int restore_lazy_done(pid_t pid, struct restore_lazy *l, char *err, size_t errlen);
/* Pre-copy (a live migration's rounds): begin spawns the stub for pid;
 * each round call reads one round (the layout, which the stub's address
 * space follows, then PAGES / DISCARD up to ROUND_END) and returns 0, or 1
 * when the SWITCHOVER record comes; finish reads the frozen state and
 * completes the process as restore_prepare does. On failure the caller
 * calls restore_abort. */
int restore_live_begin(pid_t pid, const struct restore_opts *opts, struct restore_prepared **rp,
		       struct restore_stats *st, char *err, size_t errlen);
int restore_live_round(struct restore_prepared *rp, struct fr_stream *s, struct restore_stats *st, char *err,
		       size_t errlen);
int restore_live_finish(struct restore_prepared *rp, struct fr_stream *s, struct restore_stats *st, char *err,
			size_t errlen);
/* True if pid cannot be restored here, with the reason (a running process
 * has it, or others still use it as their process group or session id). */
bool restore_pid_taken(pid_t pid, char *why, size_t len);

/* Reads a whole stream from s and leaves the restored process running.
 * *pid is the restored pid (a child of the caller). */
int restore_from_stream(struct fr_stream *s, const struct restore_opts *opts, pid_t *pid, struct restore_stats *st,
			char *err, size_t errlen);

#endif
