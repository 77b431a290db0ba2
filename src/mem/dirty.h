/* dirty.h — which pages of a running process were written since the last
 * look: the memory side of pre-copy's rounds. Backends, best first:
 *  - uffd_wp: a userfaultfd made inside the process (rsys_take_uffd) with
 *    UFFD_FEATURE_WP_ASYNC; ranges are registered in WP mode from ferry, and
 *    one PAGEMAP_SCAN on /proc/PID/pagemap returns the written pages and
 *    write-protects them again (Linux >= 6.7). Only ferry holds the uffd: if
 *    ferry dies, the kernel drops the tracking and the process runs on.
 *  - soft_dirty: "4" to /proc/PID/clear_refs, then pagemap bit 55 (kernels
 *    built with CONFIG_MEM_SOFT_DIRTY).
 *  - none: every page of every tracked range counts as written each round
 *    (pre-copy degrades to full resends).
 * Ranges are [start, end), page-aligned, each inside the process's mappings
 * when tracked. Only tracked ranges are watched: the caller re-reads the
 * layout each round, tracks new ranges (and sends them whole) and untracks
 * vanished ones. A range whose mapping changed under the tracker (unmapped
 * and mapped again between two looks) is reported written whole. A reported
 * page may be absent (MADV_DONTNEED, or never touched): the sender decides
 * with pagemap what it reads as. */
#ifndef FERRY_DIRTY_H
#define FERRY_DIRTY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../state/layout.h" /* struct range_list */

struct rsys;

enum dirty_backend { DIRTY_NONE, DIRTY_SOFT_DIRTY, DIRTY_UFFD_WP };

struct dirty_tracker {
	pid_t pid;
	enum dirty_backend backend;
	int uffd;       /* uffd_wp: ferry's userfaultfd on the process's mm, else -1 */
	int pagemap_fd; /* /proc/PID/pagemap */
	uint64_t page;
	struct range_list tracked;
	struct range_list pending; /* soft_dirty: marks saved before a clear_refs */
	void *scan_vec; /* struct page_region[scan_len] for PAGEMAP_SCAN */
	size_t scan_len;
};

/* The best backend this kernel offers (probed on ferry itself). */
enum dirty_backend dirty_backend_best(void);
const char *dirty_backend_name(enum dirty_backend b);

/* Starts a tracker for pid. uffd_wp needs rs: a remote-syscall session on a
 * frozen thread of pid (exact mode), used once to make the userfaultfd. */
int dirty_open(struct dirty_tracker *t, pid_t pid, enum dirty_backend b, struct rsys *rs, char *err, size_t errlen);
/* Watches [start, end) from now on: writes after this call are reported.
 * uffd_wp: the range is registered; registration is part of what the
 * kernel compares when it merges neighbouring mappings, so a range that
 * covers part of a mapping splits it, and a later mremap() of the whole
 * would fail with EFAULT: register whole mappings, with the process frozen
 * (pre-copy does). */
int dirty_track(struct dirty_tracker *t, uint64_t start, uint64_t end);
/* The same for a range that may hold pages already watched (a mapping that
 * grew): those written since the last look are appended to written. */
int dirty_track_collect(struct dirty_tracker *t, uint64_t start, uint64_t end, struct range_list *written);
/* Forgets [start, end) (unmapped): nothing is unregistered, since the
 * unmap did that and unregistering part of a live mapping would split it. */
void dirty_untrack(struct dirty_tracker *t, uint64_t start, uint64_t end);
/* Appends to out the pages of tracked ranges written since the last
 * dirty_collect or dirty_track, and watches them again. Parts of tracked
 * ranges whose mapping was replaced (no longer registered) are appended
 * whole to out, and to lost (if not NULL) so the caller can track them anew. */
int dirty_collect(struct dirty_tracker *t, struct range_list *out, struct range_list *lost);
/* Appends to out the parts of tracked ranges whose mapping was made again
 * since it was tracked (no longer registered), without reading or
 * write-protecting anything: a quick look between two collects. */
int dirty_replaced(struct dirty_tracker *t, struct range_list *out);
/* Appends to out the pages of the ranges in (private memory) that hold no
 * data of their own now: not present (never touched, MADV_DONTNEED, or
 * unmapped and mapped again), the zero page, or a private file mapping's
 * page that was never copied. The tracker does not see these changes as
 * writes; pre-copy asks for them where the destination holds data. */
int dirty_absent(struct dirty_tracker *t, const struct range_list *in, struct range_list *out);
/* Removes every trace of tracking from the process (closing the uffd
 * unregisters everything and merges the mappings back) and frees t. */
void dirty_close(struct dirty_tracker *t);



#endif
